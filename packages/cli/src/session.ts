/**
 * One connection to murmurd for one command: finds the socket, connects, and
 * turns the ways the daemon can fail to answer into `DaemonUnavailableError`.
 */
import {
  ConnectionClosedError, DaemonUnreachableError, MurmurClient, checkSocketPath, resolveSocketPath,
  type ChangeEvent, type Env, type WatchEvent, type MethodName, type Params, type ResolvedSocket, type Result, type SocketLocator
} from '@murmur/protocol/client'
import { DaemonUnavailableError } from './errors.js'
import { startHint } from './start-hint.js'

export interface SessionInit {
  locator: SocketLocator
  env: Env
  /** How long each call may wait for its answer, in milliseconds. */
  timeoutMs: number
}

export class Session {
  readonly socket: ResolvedSocket
  private readonly client: MurmurClient
  private readonly timeoutMs: number
  private closedByUs = false
  private closedByDaemon = false

  private constructor (client: MurmurClient, socket: ResolvedSocket, timeoutMs: number) {
    this.client = client
    this.socket = socket
    this.timeoutMs = timeoutMs
    client.once('close', () => { this.closedByDaemon = !this.closedByUs })
  }

  static async open (init: SessionInit): Promise<Session> {
    const socket = resolveSocketPath(init.locator, init.env)
    checkSocketPath(socket.path)
    try {
      return new Session(await MurmurClient.connect(socket.path), socket, init.timeoutMs)
    } catch (err) {
      if (err instanceof DaemonUnreachableError) throw unreachable(socket, err)
      throw err
    }
  }

  /** Calls `method`; `timeoutMs` (default: --timeout) bounds the wait for its answer. */
  async call<M extends MethodName>(method: M, params: Params<M>, timeoutMs = this.timeoutMs): Promise<Result<M>> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(this.giveUp(`did not answer ${method} within ${timeoutMs} ms`)), timeoutMs)
    })
    try {
      return await Promise.race([this.client.call(method, params), timeout])
    } catch (err) {
      // The client fails pending calls with a generic error when the socket closes.
      if (this.closedByDaemon || err instanceof ConnectionClosedError) throw this.unavailable('closed the connection')
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  /** Sends `calls` as one JSON-RPC batch (one transaction for its writes); each answer settles on its own. */
  async batch (calls: Array<{ method: MethodName, params: unknown }>, timeoutMs = this.timeoutMs): Promise<Array<{ result?: unknown, error?: Error }>> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(this.giveUp(`did not answer a batch of ${calls.length} within ${timeoutMs} ms`)), timeoutMs)
    })
    try {
      return await Promise.race([this.client.batch(calls), timeout])
    } catch (err) {
      if (this.closedByDaemon || err instanceof ConnectionClosedError) throw this.unavailable('closed the connection')
      throw err
    } finally {
      clearTimeout(timer)
    }
  }

  /** Changes (puts, deletes and expiries) only. */
  onChange (listener: (event: ChangeEvent) => void): void {
    this.client.on('change', (_subscription, event) => { if (event.type === 'put' || event.type === 'delete' || event.type === 'expire') listener(event) })
  }

  /** Everything subscriptions deliver: changes, snapshot pages, ready marks. */
  onWatch (listener: (event: WatchEvent) => void): void {
    this.client.on('change', (_subscription, event) => listener(event))
  }

  /** Resolves when `signal` aborts; rejects when the daemon closes the connection first. */
  async untilStopped (signal: AbortSignal): Promise<void> {
    if (this.closedByDaemon) throw this.unavailable('closed the connection')
    await new Promise<void>((resolve, reject) => {
      const onClose = (): void => {
        signal.removeEventListener('abort', onAbort)
        reject(this.unavailable('closed the connection'))
      }
      const onAbort = (): void => {
        this.client.off('close', onClose)
        resolve()
      }
      if (signal.aborted) return resolve()
      signal.addEventListener('abort', onAbort, { once: true })
      this.client.once('close', onClose)
    })
  }

  close (): void {
    this.closedByUs = true
    this.client.close()
  }

  /**
   * A call went unanswered: drop the connection, not end it, since a hung
   * murmurd never closes its side and an ended socket would keep this
   * process alive.
   */
  private giveUp (what: string): DaemonUnavailableError {
    this.closedByUs = true
    this.client.destroy()
    return this.unavailable(what)
  }

  private unavailable (what: string): DaemonUnavailableError {
    return new DaemonUnavailableError(`murmurd at ${this.socket.path} ${what}`)
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no socket there',
  ECONNREFUSED: 'nothing is listening (stale socket?)',
  EACCES: 'permission denied',
  ENOTSOCK: 'not a socket'
}

function unreachable (socket: ResolvedSocket, err: DaemonUnreachableError): DaemonUnavailableError {
  const reason = err.code != null ? REASONS[err.code] ?? err.code : err.message
  return new DaemonUnavailableError(
    `cannot reach murmurd at ${socket.path} (${describeVia(socket.via)}): ${reason}; start it with: ${startHint(socket)}`,
    { cause: err }
  )
}

function describeVia (via: string): string {
  if (via.startsWith('--')) return `from ${via}`
  if (via === 'default') return 'default location: no --socket, --data-dir or --name given'
  return `from $${via}`
}
