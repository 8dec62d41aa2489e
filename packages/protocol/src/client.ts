/**
 * A typed JSON-RPC client for a local murmurd, over its Unix socket.
 */
import { EventEmitter } from 'node:events'
import { connect, type Socket } from 'node:net'
import { JSONRPCClient, type JSONRPCResponse } from 'json-rpc-2.0'
import { MurmurRpcError, type WireError } from './errors.js'
import { LineDecoder, encodeFrame } from './framing.js'
import type { MethodName, Params } from './methods.js'
import { SUBSCRIPTION_NOTIFICATION, type Result, type SubscriptionNotification, type WatchEvent } from './results.js'

/** The daemon could not be reached at `path`. */
export class DaemonUnreachableError extends Error {
  static override name = 'DaemonUnreachableError'
  override name = 'DaemonUnreachableError'
  readonly path: string
  readonly code: string | undefined

  constructor (path: string, cause: NodeJS.ErrnoException) {
    super(`cannot reach murmurd at ${path}: ${cause.code ?? cause.message}`, { cause })
    this.path = path
    this.code = cause.code
  }
}

/** The connection closed before the daemon answered. */
export class ConnectionClosedError extends Error {
  static override name = 'ConnectionClosedError'
  override name = 'ConnectionClosedError'
}

export interface ClientEvents {
  change: [subscription: string, event: WatchEvent]
  close: []
}

export class MurmurClient extends EventEmitter<ClientEvents> {
  private readonly socket: Socket
  private readonly rpc: JSONRPCClient
  private closed = false
  /** An error the daemon sent for no request in particular, reported to calls the connection then fails. */
  private refusal?: MurmurRpcError

  private constructor (socket: Socket) {
    super()
    this.socket = socket
    this.rpc = new JSONRPCClient(payload => {
      if (this.closed) throw new ConnectionClosedError('connection to murmurd is closed')
      this.socket.write(encodeFrame(payload))
    })
    const decoder = new LineDecoder(Number.MAX_SAFE_INTEGER)
    socket.on('data', chunk => {
      for (const line of decoder.push(chunk)) this.onLine(line)
    })
    socket.on('close', () => {
      this.closed = true
      this.rpc.rejectAllPendingRequests('connection to murmurd closed')
      this.emit('close')
    })
    socket.on('error', () => { /* 'close' follows and rejects what is pending */ })
  }

  /** Connects to the daemon's socket; rejects with `DaemonUnreachableError`. */
  static async connect (path: string): Promise<MurmurClient> {
    return await new Promise((resolve, reject) => {
      const socket = connect(path)
      socket.once('connect', () => {
        socket.removeAllListeners('error')
        resolve(new MurmurClient(socket))
      })
      socket.once('error', (err: NodeJS.ErrnoException) => reject(new DaemonUnreachableError(path, err)))
    })
  }

  /** Calls one method; rejects with a `MurmurRpcError` named after the daemon's error. */
  async call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M>> {
    const response = await this.rpc.requestAdvanced({ jsonrpc: '2.0', id: this.nextId(), method, params })
    return this.unwrap(response) as Result<M>
  }

  /** Sends several calls as one JSON-RPC batch; each settles on its own. */
  async batch (calls: Array<{ method: MethodName, params: unknown }>): Promise<Array<{ result?: unknown, error?: MurmurRpcError }>> {
    const requests = calls.map(({ method, params }) => ({ jsonrpc: '2.0' as const, id: this.nextId(), method, params: params as Record<string, unknown> }))
    const responses = await this.rpc.requestAdvanced(requests)
    const byId = new Map(responses.map(response => [response.id, response]))
    return requests.map(request => {
      const response = byId.get(request.id)
      if (response == null) return { error: new MurmurRpcError(-32603, 'no response for request') }
      try {
        return { result: this.unwrap(response) }
      } catch (err) {
        return { error: err as MurmurRpcError }
      }
    })
  }

  /** Half-closes: the daemon answers what was sent, then closes. */
  close (): void {
    this.closed = true
    this.socket.end()
  }

  /** Closes at once; pending calls reject with `ConnectionClosedError`. */
  destroy (): void {
    this.closed = true
    this.socket.destroy()
  }

  private id = 0
  private nextId (): number {
    return ++this.id
  }

  private onLine (line: string): void {
    if (line === '') return
    let message
    try {
      message = JSON.parse(line)
    } catch {
      // not a murmurd on the other end, or a broken one: nothing more can be trusted
      this.destroy()
      return
    }
    if (!Array.isArray(message) && message.id === null && message.error != null) {
      // the daemon refused the connection or a frame as a whole (too busy, frame too large): pending calls fail with it
      this.refusal = MurmurRpcError.fromWire(message.error as WireError)
      return
    }
    if (!Array.isArray(message) && message.method === SUBSCRIPTION_NOTIFICATION) {
      const { subscription, result } = message.params as SubscriptionNotification
      this.emit('change', subscription, result)
      return
    }
    this.rpc.receive(message)
  }

  private unwrap (response: JSONRPCResponse): unknown {
    if (response.error == null) return response.result
    // json-rpc-2.0 settles pending calls with code 0 when the connection goes away
    if (this.closed && response.error.code === 0) throw this.refusal ?? new ConnectionClosedError(`connection to murmurd closed: ${response.error.message}`)
    throw MurmurRpcError.fromWire(response.error as WireError)
  }
}
