/**
 * A raw NDJSON client for tests that misbehave on purpose: it writes whatever
 * bytes it is given, keeps every line the daemon sends, and matches answers
 * to requests by id.
 */
import { connect, type Socket } from 'node:net'
import { LineDecoder } from '@murmur/protocol'

export class RawClient {
  readonly socket: Socket
  /** Every message received, in order. */
  readonly messages: any[] = []
  /** Resolves when the connection has closed, with the error that closed it, if any. */
  readonly closed: Promise<Error | undefined>
  /** Splits on newline bytes, so a character split across chunks still decodes. */
  private readonly decoder = new LineDecoder(Number.MAX_SAFE_INTEGER)
  private nextId = 0
  private waiters: Array<() => void> = []

  private constructor (socket: Socket) {
    this.socket = socket
    let error: Error | undefined
    socket.on('error', err => { error = err })
    this.closed = new Promise(resolve => socket.once('close', () => { this.wake(); resolve(error) }))
    socket.on('data', (chunk: Buffer) => {
      for (const line of this.decoder.push(chunk)) if (line !== '') this.messages.push(JSON.parse(line))
      this.wake()
    })
  }

  static async connect (path: string): Promise<RawClient> {
    return await new Promise((resolve, reject) => {
      const socket = connect(path)
      socket.once('connect', () => { socket.off('error', reject); resolve(new RawClient(socket)) })
      socket.once('error', reject)
    })
  }

  get isClosed (): boolean {
    return this.socket.destroyed
  }

  write (data: string | Buffer): void {
    this.socket.write(data)
  }

  /** Sends one request and resolves with its answer (taken out of `messages`). */
  async request (method: string, params?: unknown, timeoutMs = 10_000): Promise<any> {
    const id = `r${++this.nextId}`
    this.write(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) }) + '\n')
    const answer = await this.next(m => m.id === id, timeoutMs)
    this.messages.splice(this.messages.indexOf(answer), 1)
    return answer
  }

  /** Resolves with the first message (received or yet to come) that `match` accepts. */
  async next (match: (message: any) => boolean, timeoutMs = 10_000): Promise<any> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.messages.find(match)
      if (found !== undefined) return found
      if (this.socket.destroyed) throw new Error(`connection closed before the expected message; got ${JSON.stringify(this.messages).slice(0, 300)}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages).slice(0, 300)}`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  destroy (): void {
    this.socket.destroy()
  }

  private wake (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }
}
