/**
 * The local JSON-RPC 2.0 server: NDJSON over a Unix socket that only the
 * owner can reach (0600, in a directory no one else can write).
 *
 * Every limit holds per connection, so one misbehaving client costs the
 * others nothing: a frame too large or too slow to complete, or a client that
 * stops reading, loses its connection (with a last error frame when it can
 * still read one); too many requests in flight or too many connections are
 * answered with `TooBusyError`.
 *
 * This is the socket side: connections, framing, limits, sending, and change
 * notifications for subscribers. What a frame's requests are answered with
 * is the `Answerer`'s (answer.ts).
 */
import { rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { getDefaultHighWaterMark } from 'node:stream'
import { createJSONRPCErrorResponse, type JSONRPCResponse } from 'json-rpc-2.0'
import {
  DEFAULT_FRAME_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_SUBSCRIPTIONS,
  InvalidRequestCode, SUBSCRIPTION_NOTIFICATION, checkSocketPath, encodeFrame
} from '@murmur/protocol'
import { Answerer, type Answer } from './answer.js'
import { encodeAnswer } from './encode-answer.js'
import { readFrames } from './frame-reader.js'
import { enqueue, pump, queueBehind, type Gate, type QueueSender } from './replay-queue.js'
import { endBackup } from './backup-handlers.js'
import { createMethods, Subscriptions, type Connection } from './handlers.js'
import { prepareSocketPath } from './socket-file.js'
import type { ChangeEvent, Murmur } from '../murmur.js'
import type { Logger } from 'pino'

export interface RpcServerInit {
  path: string
  log: Logger
  /** @default 8 MiB */
  maxFrameBytes?: number
  /** A frame must arrive whole within this long of its first byte (slowloris). @default 10_000 */
  frameTimeoutMs?: number
  /** Connections served at once; one more is answered with TooBusyError and closed. @default 256 */
  maxConnections?: number
  /** Requests one connection may have in progress (a batch counts as one). @default 1024 */
  maxInFlight?: number
  /** Subscriptions one connection may hold. @default 256 */
  maxSubscriptions?: number
  /** A client that leaves this much unread output is dropped; its socket's high-water mark is at most half of it. @default 64 MiB */
  maxUnreadBytes?: number
  /** Changes (or snapshot entries) a resumed subscription's replay reads a turn. @default 1000 */
  replayPageSize?: number
}

/** How long a refused client has to read its last error frame before it is cut off. */
const CLOSE_GRACE_MS = 2_000

export class RpcServer {
  readonly path: string
  private readonly init: RpcServerInit
  private readonly log: Logger
  private readonly node: Murmur
  private readonly answerer: Answerer
  private readonly connections = new Set<Connection>()
  private server?: Server
  private nextId = 0
  /** One listener for the node's changes, whatever the number of connections. */
  private readonly onChange = (event: ChangeEvent): void => {
    for (const connection of this.connections) this.deliver(connection, event)
  }

  /** Subscriptions open on all connections: the server listens to the node only while there are some (with none, the node builds no events). */
  private subscribed = 0
  private readonly counted = (delta: number): void => {
    const before = this.subscribed
    this.subscribed += delta
    if (before === 0 && this.subscribed > 0) this.node.on('change', this.onChange)
    else if (before > 0 && this.subscribed === 0) this.node.off('change', this.onChange)
  }

  constructor (node: Murmur, init: RpcServerInit) {
    this.node = node
    this.init = init
    this.log = init.log
    this.path = checkSocketPath(init.path)
    const metrics = node.metrics
    const context = { socket: this.path, maxSubscriptions: init.maxSubscriptions ?? DEFAULT_MAX_SUBSCRIPTIONS, replayPageSize: init.replayPageSize }
    this.answerer = new Answerer(createMethods(node, context), init.log, metrics?.rpc.bind(metrics))
  }

  async listen (): Promise<void> {
    await prepareSocketPath(this.path)
    // a replay waits for 'drain' once half the unread limit waits in its socket (replay-queue.ts), and a socket says 'drain' only
    // after passing its high-water mark: under a limit of less than twice the default mark, it waited for one that never came
    const highWaterMark = Math.min(getDefaultHighWaterMark(false), Math.floor(this.maxUnreadBytes / 2))
    const server = createServer({ allowHalfOpen: true, highWaterMark }, socket => { this.accept(socket) })
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
    // an accept() error libuv cannot absorb (it sheds connections itself on EMFILE) would otherwise crash murmurd
    server.on('error', err => { this.log.warn({ err: err.message }, 'RPC server cannot accept a connection') })
    this.server = server
  }

  /** Stops accepting, ends every connection and removes the socket file. */
  async close (): Promise<void> {
    const server = this.server
    if (server == null) return
    this.server = undefined
    this.node.off('change', this.onChange)
    const closed = new Promise<void>(resolve => server.close(() => { resolve() }))
    for (const connection of this.connections) connection.socket.destroy()
    await closed
    rmSync(this.path, { force: true })
  }

  private accept (socket: Socket): void {
    const connection: Connection = { id: ++this.nextId, socket, subscriptions: new Subscriptions(this.counted), inFlight: 0 }
    const maxConnections = this.init.maxConnections ?? DEFAULT_MAX_CONNECTIONS
    if (this.connections.size >= maxConnections) {
      socket.on('error', () => {})
      socket.resume() // discard whatever it sends
      this.refuse(connection, 'TooBusyError', `too many connections to murmurd (limit ${maxConnections}); close some and retry`, { connections: this.connections.size })
      return
    }
    this.connections.add(connection)
    readFrames(socket, {
      maxFrameBytes: this.init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      frameTimeoutMs: this.init.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS
    }, {
      closing: () => connection.closing === true,
      lines: lines => {
        // the answers to a chunk of pipelined requests that need no I/O leave in one write
        if (lines.length > 1) socket.cork()
        for (const line of lines) this.dispatch(connection, line)
        if (lines.length > 1) socket.uncork()
      },
      refuse: (name, message, fields) => { this.refuse(connection, name, message, fields) },
      end: last => {
        // the client half-closed: answer what it sent, then close our side
        if (last != null) this.dispatch(connection, last)
        connection.ending = true
        this.endIfDone(connection)
      }
    })
    socket.on('error', err => { this.log.debug({ conn: connection.id, err: err.message }, 'RPC connection error') })
    socket.on('close', () => {
      endBackup(connection)
      connection.subscriptions.clear()
      this.connections.delete(connection)
    })
  }

  /**
   * Answers a protocol violation with one last error frame, after the answers
   * to the requests before it, and closes the connection, reading (and
   * discarding) what the client still sends so it can read them; a client
   * that never closes is cut off after a grace period.
   */
  private refuse (connection: Connection, name: string, message: string, fields: Record<string, unknown> = {}): void {
    const { socket } = connection
    if (connection.closing === true || socket.destroyed) return
    connection.closing = true
    this.node.metrics?.rpc('unread', InvalidRequestCode)
    this.log.warn({ conn: connection.id, reason: name, ...fields }, `${message}; closing the RPC connection`)
    connection.lastWords = encodeFrame(createJSONRPCErrorResponse(null, InvalidRequestCode, message, { name }))
    this.endIfDone(connection)
    setTimeout(() => { socket.destroy() }, CLOSE_GRACE_MS).unref()
  }

  private dispatch (connection: Connection, line: string): void {
    if (line.trim() === '') return
    const maxInFlight = this.init.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
    if (connection.inFlight >= maxInFlight) {
      if (connection.busyWarned !== true) {
        connection.busyWarned = true
        this.log.warn({ conn: connection.id, maxInFlight }, 'RPC client has too many requests in flight; refusing more until it reads its answers')
      }
      this.node.metrics?.rpc('unread', InvalidRequestCode)
      const refusal = this.answerer.refusal(line, InvalidRequestCode, `too many requests in flight on this connection (limit ${maxInFlight}); wait for answers`, { name: 'TooBusyError' })
      if (refusal != null) this.send(connection, refusal)
      return
    }
    let answer: Answer<JSONRPCResponse | JSONRPCResponse[]>
    try {
      answer = this.answerer.answer(connection, line)
    } catch (err) {
      connection.later = undefined
      this.log.error({ err }, 'RPC dispatch failed')
      return
    }
    // a replay this frame's requests asked for (kv_subscribe with since), to follow its answer
    const later = connection.later
    connection.later = undefined
    // a request answered without I/O (kv_get, a refusal) goes out now, never counted in flight
    if (!(answer instanceof Promise)) {
      if (answer != null) this.send(connection, answer)
      if (later !== undefined) enqueue(this.sender, connection, later)
      return
    }
    // an answer that waits (a batch that writes): its replay, and every live event after it, wait behind it
    const gate: Gate | undefined = later !== undefined ? { open: false } : undefined
    if (gate !== undefined && later !== undefined) enqueue(this.sender, connection, [gate, ...later])
    connection.inFlight++
    answer
      .then(response => {
        if (gate !== undefined) gate.message = response ?? undefined
        else if (response != null) this.sendTogether(connection, response)
      })
      .catch(err => { this.log.error({ err }, 'RPC dispatch failed') })
      .finally(() => {
        connection.inFlight--
        if (gate !== undefined) {
          gate.open = true
          pump(this.sender, connection)
        }
        this.endIfDone(connection)
      })
  }

  /** A client that half-closed, or was refused, is closed once every answer, and every replay it asked for, is out. */
  private endIfDone (connection: Connection): void {
    if (connection.inFlight > 0 || connection.replaying !== undefined) return
    if (connection.lastWords !== undefined) {
      connection.socket.end(connection.lastWords)
      connection.lastWords = undefined
    } else if (connection.ending === true && connection.closing !== true) connection.socket.end()
  }

  /** Sends a message, or a frame already encoded (a string). */
  private send (connection: Connection, message: unknown): void {
    const { socket } = connection
    if (socket.destroyed || socket.writableEnded) return
    if (socket.writableLength > this.maxUnreadBytes) {
      this.drop(connection, socket.writableLength)
      return
    }
    const frame = typeof message === 'string'
      ? message
      : encodeAnswer(message, err => { this.log.error({ conn: connection.id, err: err.message }, 'RPC answer too large to encode; answered with an error') })
    if (frame !== undefined) socket.write(frame)
  }

  private drop (connection: Connection, unread: number): void {
    this.log.warn({ conn: connection.id, unread, maxUnreadBytes: this.maxUnreadBytes }, 'RPC client is not reading its answers; dropping it')
    connection.socket.destroy()
  }

  private readonly sender: QueueSender = {
    maxUnreadBytes: () => this.maxUnreadBytes,
    send: (connection, message) => { this.send(connection, message) },
    sendTogether: (connection, message) => { this.sendTogether(connection, message) },
    sent: connection => { this.endIfDone(connection) }
  }

  private get maxUnreadBytes (): number {
    return this.init.maxUnreadBytes ?? 64 * 1024 * 1024
  }

  /**
   * Sends a message that became ready in a promise callback or a commit: the
   * acks of one commit and its change notifications leave in one write, not
   * one system call each. A lone synchronous answer does not wait for a tick.
   */
  private sendTogether (connection: Connection, message: unknown): void {
    if (connection.corked !== true) {
      connection.corked = true
      connection.socket.cork()
      process.nextTick(() => {
        connection.corked = false
        connection.socket.uncork()
      })
    }
    this.send(connection, message)
  }

  /** Delivers a change to the connection's subscriptions that want it (behind a replay being sent, if any). */
  private deliver (connection: Connection, event: ChangeEvent): void {
    for (const [id, subscription] of connection.subscriptions) {
      const result = subscription(event)
      if (result == null) continue
      const message = { jsonrpc: '2.0', method: SUBSCRIPTION_NOTIFICATION, params: { subscription: id, result } }
      const replaying = connection.replaying
      if (replaying === undefined) {
        this.sendTogether(connection, message)
        continue
      }
      const waiting = queueBehind(replaying, message)
      if (connection.socket.writableLength + waiting > this.maxUnreadBytes) {
        this.drop(connection, connection.socket.writableLength + waiting)
        return
      }
    }
  }
}

