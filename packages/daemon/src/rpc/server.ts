/**
 * The local JSON-RPC 2.0 server: NDJSON over a Unix socket that only the
 * owner can reach (0600, inside the 0700 data dir).
 */
import { lstatSync, rmSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { JSONRPCServer, createJSONRPCErrorResponse, type JSONRPCRequest, type JSONRPCResponse } from 'json-rpc-2.0'
import {
  DEFAULT_MAX_FRAME_BYTES, FrameTooLargeError, InternalErrorCode, InvalidRequestCode, LineDecoder, MAX_BATCH_REQUESTS,
  MurmurRpcError, ParseErrorCode, SUBSCRIPTION_NOTIFICATION, checkSocketPath, encodeFrame, parseFrame
} from '@murmur/protocol'
import { SocketInUseError } from '../errors.js'
import { registerHandlers, type Connection } from './handlers.js'
import type { ChangeEvent, Murmur } from '../murmur.js'
import type { Logger } from 'pino'

export interface RpcServerInit {
  path: string
  log: Logger
  /** @default 8 MiB */
  maxFrameBytes?: number
  /** @default 256 */
  maxConnections?: number
  /** Requests one connection may have in progress. @default 1024 */
  maxInFlight?: number
  /** A client that leaves this much unread output is dropped. @default 64 MiB */
  maxUnreadBytes?: number
}

export class RpcServer {
  readonly path: string
  private readonly init: RpcServerInit
  private readonly node: Murmur
  private readonly rpc: JSONRPCServer<Connection>
  private readonly connections = new Set<Connection>()
  private server?: Server

  constructor (node: Murmur, init: RpcServerInit) {
    this.node = node
    this.init = init
    this.path = checkSocketPath(init.path)
    this.rpc = new JSONRPCServer<Connection>({
      errorListener: (message, err) => { init.log.debug({ err: (err as Error)?.message }, message) }
    })
    this.rpc.mapErrorToJSONRPCErrorResponse = (id, err) => {
      if (err instanceof MurmurRpcError) return createJSONRPCErrorResponse(id, err.code, err.message, err.data)
      init.log.error({ err }, 'RPC handler failed')
      return createJSONRPCErrorResponse(id, InternalErrorCode, `internal error: ${(err as Error)?.message ?? String(err)}`, { name: 'InternalError' })
    }
    registerHandlers(this.rpc, node, { socket: this.path })
  }

  async listen (): Promise<void> {
    await removeStaleSocket(this.path)
    const server = createServer({ allowHalfOpen: true }, socket => { this.accept(socket) })
    server.maxConnections = this.init.maxConnections ?? 256
    // bind with a 0177 umask so the socket is never reachable by others, not even briefly
    const umask = process.umask(0o177)
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(this.path, () => { server.off('error', reject); resolve() })
      })
    } finally {
      process.umask(umask)
    }
    this.server = server
  }

  /** Stops accepting, ends every connection and removes the socket file. */
  async close (): Promise<void> {
    const server = this.server
    if (server == null) return
    this.server = undefined
    const closed = new Promise<void>(resolve => server.close(() => { resolve() }))
    for (const connection of this.connections) connection.socket.destroy()
    await closed
    rmSync(this.path, { force: true })
  }

  private accept (socket: Socket): void {
    const connection: Connection = { socket, subscriptions: new Map(), inFlight: 0 }
    this.connections.add(connection)
    const decoder = new LineDecoder(this.init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES)
    const unsubscribe = this.forwardChanges(connection)
    socket.on('data', chunk => {
      let lines: string[]
      try {
        lines = decoder.push(chunk)
      } catch (err) {
        if (!(err instanceof FrameTooLargeError)) throw err
        this.init.log.warn({ err: err.message }, 'RPC client sent an oversized frame; closing its connection')
        socket.end(encodeFrame(createJSONRPCErrorResponse(null, InvalidRequestCode, err.message, { name: 'FrameTooLargeError' })))
        return
      }
      for (const line of lines) this.dispatch(connection, line)
    })
    socket.on('end', () => {
      // the client half-closed: answer what it sent, then close our side
      const last = decoder.end()
      if (last != null) this.dispatch(connection, last)
      connection.ending = true
      if (connection.inFlight === 0) socket.end()
    })
    socket.on('error', err => { this.init.log.debug({ err: err.message }, 'RPC connection error') })
    socket.on('close', () => {
      unsubscribe()
      this.connections.delete(connection)
    })
  }

  private dispatch (connection: Connection, line: string): void {
    if (line.trim() === '') return
    const { socket } = connection
    if (connection.inFlight >= (this.init.maxInFlight ?? 1024)) {
      this.send(connection, createJSONRPCErrorResponse(null, InvalidRequestCode, 'too many requests in flight on this connection; wait for answers', { name: 'TooBusyError' }))
      return
    }
    connection.inFlight++
    this.answer(connection, line)
      .then(response => { if (response != null) this.send(connection, response) })
      .catch(err => { this.init.log.error({ err }, 'RPC dispatch failed') })
      .finally(() => {
        connection.inFlight--
        if (connection.ending === true && connection.inFlight === 0) socket.end()
      })
  }

  private async answer (connection: Connection, line: string): Promise<JSONRPCResponse | JSONRPCResponse[] | null> {
    let message: unknown
    try {
      message = parseFrame(line)
    } catch (err) {
      return createJSONRPCErrorResponse(null, ParseErrorCode, `parse error: ${(err as Error).message}`, { name: (err as Error).name })
    }
    if (!Array.isArray(message)) return await this.answerOne(connection, message)
    if (message.length === 0) return createJSONRPCErrorResponse(null, InvalidRequestCode, 'empty batch', { name: 'InvalidRequestError' })
    if (message.length > MAX_BATCH_REQUESTS) {
      return createJSONRPCErrorResponse(null, InvalidRequestCode, `batch of ${message.length} requests exceeds the limit of ${MAX_BATCH_REQUESTS}`, { name: 'InvalidRequestError' })
    }
    const responses = await Promise.all(message.map(async item => await this.answerOne(connection, item)))
    const answered = responses.filter((r): r is JSONRPCResponse => r != null)
    return answered.length > 0 ? answered : null
  }

  private async answerOne (connection: Connection, message: unknown): Promise<JSONRPCResponse | null> {
    const problem = requestProblem(message)
    if (problem != null) {
      const id = idOf(message)
      return createJSONRPCErrorResponse(id, InvalidRequestCode, `invalid request: ${problem}`, { name: 'InvalidRequestError' })
    }
    return await this.rpc.receive(message as JSONRPCRequest, connection)
  }

  private send (connection: Connection, message: unknown): void {
    const { socket } = connection
    if (socket.destroyed) return
    if (socket.writableLength > (this.init.maxUnreadBytes ?? 64 * 1024 * 1024)) {
      this.init.log.warn({ unread: socket.writableLength }, 'RPC client is not reading its answers; dropping it')
      socket.destroy()
      return
    }
    socket.write(encodeFrame(message))
  }

  /** Delivers the node's changes to this connection's subscriptions. */
  private forwardChanges (connection: Connection): () => void {
    const listener = (event: ChangeEvent): void => {
      for (const [id, subscription] of connection.subscriptions) {
        const result = subscription(event)
        if (result != null) this.send(connection, { jsonrpc: '2.0', method: SUBSCRIPTION_NOTIFICATION, params: { subscription: id, result } })
      }
    }
    this.node.on('change', listener)
    return () => { this.node.off('change', listener) }
  }
}

/** Why `message` is not a JSON-RPC 2.0 request, or undefined when it is one. */
function requestProblem (message: unknown): string | undefined {
  if (typeof message !== 'object' || message == null || Array.isArray(message)) return 'a request must be a JSON object'
  const request = message as Record<string, unknown>
  if (request.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"'
  if (typeof request.method !== 'string') return 'method must be a string'
  if ('id' in request && !isId(request.id)) return 'id must be a string, a number or null'
  if ('params' in request && (typeof request.params !== 'object' || request.params == null)) return 'params must be an object'
  return undefined
}

function isId (id: unknown): boolean {
  return id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))
}

function idOf (message: unknown): string | number | null {
  const id = (message as { id?: unknown } | null)?.id
  return isId(id) ? id as string | number | null : null
}

/**
 * A socket file left by a crashed daemon is removed; a live one (something
 * answers on it) is not. A path that exists but is not a socket is refused,
 * so we never delete a user's file or follow a planted symlink.
 */
async function removeStaleSocket (path: string): Promise<void> {
  let stat
  try {
    stat = lstatSync(path)
  } catch {
    return
  }
  if (!stat.isSocket()) throw new SocketInUseError(`${path} exists and is not a socket; remove it or choose another --socket`)
  const live = await new Promise<boolean>(resolve => {
    const probe = connect(path)
    probe.once('connect', () => { probe.destroy(); resolve(true) })
    probe.once('error', () => { resolve(false) })
  })
  if (live) throw new SocketInUseError(`another murmurd is listening on ${path}`)
  rmSync(path, { force: true })
}
