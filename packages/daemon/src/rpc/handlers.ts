/**
 * The RPC methods, typed from the protocol's method table: params are
 * validated against its strict schemas before any handler sees them.
 */
import { randomBytes } from 'node:crypto'
import {
  InvalidBase64Error, InvalidRequestCode, MurmurRpcError, SUBSCRIPTION_NOTIFICATION, decodeValue, encodeTypedValue, methods, rpcError,
  type ChangeEvent as WireChange, type Entry as WireEntry, type HistoryEntry, type MethodName, type Params, type Result,
  type ValueEncoding, type WatchEvent
} from '@murmur/protocol'
import type { Murmur } from '../murmur.js'
import type { ChangeEvent, Entry } from '../entry.js'
import type { HistoryVersion } from '../key-history.js'
import type { ReplayReader } from '../replay.js'
import type { Write } from '../writes.js'
import { backupHandlers } from './backup-handlers.js'
import { SYNC_PROTOCOL } from '@murmur/core'
import { topicFor } from '../gossip.js'
import { VERSION } from '../version.js'
import type { Socket } from 'node:net'

/** A subscription turns a node change into its wire form, or undefined to skip it. */
export type Subscription = (event: ChangeEvent) => WireChange | undefined

/** A connection's subscriptions; `counted` hears of each one added or removed, as it happens. */
export class Subscriptions extends Map<string, Subscription> {
  constructor (private readonly counted: (delta: number) => void) {
    super()
  }

  override set (id: string, subscription: Subscription): this {
    const added = !this.has(id)
    super.set(id, subscription)
    if (added) this.counted(1)
    return this
  }

  override delete (id: string): boolean {
    const removed = super.delete(id)
    if (removed) this.counted(-1)
    return removed
  }

  override clear (): void {
    const removed = this.size
    super.clear()
    if (removed > 0) this.counted(-removed)
  }
}

export interface Connection {
  /** Numbers connections in the log. */
  id: number
  socket: Socket
  subscriptions: Subscriptions
  inFlight: number
  /** The client half-closed: close once every answer is out. */
  ending?: boolean
  /** The server refused the client and is closing the connection. */
  closing?: boolean
  /** The error frame a refused client gets last, once the answers before it are out. */
  lastWords?: string
  /** TooBusyError has been logged for this connection (once is enough). */
  busyWarned?: boolean
  /** Answers are being gathered into one socket write, sent on the next tick. */
  corked?: boolean
  /** Backups this connection made and has not ended: id → file, removed when the connection closes. */
  backups?: Map<string, string>
  /** Replays to send right after the answer being made (resumed subscriptions'). */
  later?: ReplaySource[]
  /**
   * A replay being sent, paced by the socket draining and a page a turn; every notification for the
   * connection queues behind it (`waiting`: the bytes of those; `turn`: the next page waits for the next turn).
   */
  replaying?: { queue: unknown[], next: number, waiting: number, turn?: boolean }
}

export interface HandlerContext {
  socket: string
  maxSubscriptions: number
  /** Changes (or snapshot entries) a replay reads at a time. @default 1000 */
  replayPageSize?: number
}

/** A replay's notifications, a page a call; undefined once all are out. */
export interface ReplaySource { page: () => unknown[] | undefined }

export type Handlers = { [M in MethodName]: (params: Params<M>, connection: Connection) => Result<M> | Promise<Result<M>> }

export type WriteMethod = 'kv_put' | 'kv_delete'

export function isWriteMethod (name: unknown): name is WriteMethod {
  return name === 'kv_put' || name === 'kv_delete'
}

export interface WriteCall {
  method: WriteMethod
  params: unknown
}

export interface RpcMethods {
  /**
   * Validates the params and runs the method. A method that needs no I/O
   * answers synchronously (no promise to wait on); errors are thrown or
   * rejected as `MurmurRpcError`.
   */
  call: (method: MethodName, params: unknown, connection: Connection) => unknown
  /**
   * Runs kv_put and kv_delete calls as one write (`Murmur.writeMany`): one
   * transaction and one promise, each call settling as it would on its own.
   */
  writeMany: (calls: WriteCall[]) => Promise<Array<PromiseSettledResult<unknown>>>
}

export function createMethods (node: Murmur, context: HandlerContext): RpcMethods {
  const handlers: Handlers = {
    kv_put: async params => {
      const { key, value, ...options } = toWrite({ method: 'kv_put', params })
      return { version: await node.put(key, value as Uint8Array, options) }
    },
    kv_get: ({ key, encoding, conflicts }) => {
      const entry = node.get(key)
      if (entry == null) return null
      return conflicts === true ? { ...toWireEntry(entry, encoding), conflicts: node.history(key, { conflicts: true }).map(v => toWireHistory(v, encoding)) } : toWireEntry(entry, encoding)
    },
    kv_history: ({ key, limit, encoding }) => ({ key, versions: node.history(key, { limit }).map(v => toWireHistory(v, encoding)) }),
    kv_revert: async ({ key, version }) => ({ version: await node.revert(key, version) }),
    kv_delete: async ({ key, ifVersion }) => await node.delete(key, { ifVersion }),
    kv_list: ({ prefix, after, limit, encoding }) => {
      const { items, next } = node.list({ prefix, after, limit })
      return { items: items.map(entry => toWireEntry(entry, encoding)), ...(next != null ? { next } : {}) }
    },
    kv_subscribe: ({ prefix, prefixes = [], since, encoding }, connection) => {
      if (connection.subscriptions.size >= context.maxSubscriptions) {
        throw new MurmurRpcError(InvalidRequestCode, `too many subscriptions on this connection (limit ${context.maxSubscriptions}); unsubscribe first`, { name: 'TooBusyError' })
      }
      const id = randomBytes(8).toString('hex')
      const watched = prefix !== undefined ? [prefix, ...prefixes] : prefixes
      const wanted = (key: string): boolean => watched.length === 0 || watched.some(p => key.startsWith(p))
      if (since === undefined) {
        connection.subscriptions.set(id, event => wanted(event.key) ? toWireChange(event, encoding) : undefined)
        return id
      }
      // begun and registered in one turn: the reader tells which live changes it does not cover (see replay.ts)
      const reader = node.replayFrom(since === 'now' ? undefined : since, watched, context.replayPageSize)
      connection.subscriptions.set(id, event => wanted(event.key) && reader.tells(event) ? toWireChange(event, encoding) : undefined)
      connection.later = [...(connection.later ?? []), replaySource(id, reader, connection, encoding)]
      return id
    },
    kv_unsubscribe: ({ subscription }, connection) => connection.subscriptions.delete(subscription),
    p2p_peers: () => node.peers(),
    p2p_connect: async ({ addr }) => ({ id: await node.connect(addr) }),
    node_status: () => ({ ...node.status(), socket: context.socket }),
    node_health: () => node.health(),
    node_invite: ({ expiresInMs }) => node.invite(expiresInMs),
    node_version: () => ({ version: VERSION, node: process.version, protocols: { rpc: 'JSON-RPC 2.0 over NDJSON', sync: SYNC_PROTOCOL, gossip: topicFor(node.group) } }),
    ...backupHandlers(node)
  }
  return {
    call: (method, params, connection) => (handlers[method] as (params: unknown, connection: Connection) => unknown)(validate(method, params), connection),
    writeMany: async calls => await writeMany(node, calls)
  }
}

async function writeMany (node: Murmur, calls: WriteCall[]): Promise<Array<PromiseSettledResult<unknown>>> {
  const settled = new Array<PromiseSettledResult<unknown>>(calls.length)
  const writes: Write[] = []
  /** The index in `calls` of each write. */
  const indexes: number[] = []
  for (let i = 0; i < calls.length; i++) {
    try {
      writes.push(toWrite(calls[i] as WriteCall))
      indexes.push(i)
    } catch (err) {
      settled[i] = { status: 'rejected', reason: err }
    }
  }
  const outcomes = await node.writeMany(writes)
  for (let j = 0; j < outcomes.length; j++) {
    const i = indexes[j] as number
    const outcome = outcomes[j] as PromiseSettledResult<unknown>
    // a put answers { version }, as kv_put does; a delete's outcome is already kv_delete's result
    settled[i] = outcome.status === 'fulfilled' && calls[i]?.method === 'kv_put' ? { status: 'fulfilled', value: { version: outcome.value } } : outcome
  }
  return settled
}

/** A kv_put or kv_delete call's params, validated, as the write it asks for. */
function toWrite ({ method, params }: WriteCall): Write {
  if (method === 'kv_delete') {
    const { key, ifVersion } = validate(method, params)
    return { key, value: null, ifVersion }
  }
  const { key, value, encoding, ifVersion, ifAbsent, ttlMs, keepalive, ...rest } = validate(method, params)
  // base64 without a type is binary: what `put --base64` and an export's binary values send
  const type = rest.type ?? (encoding === 'base64' ? 'binary' : 'text')
  // a json value in base64 is its text as given (the write path checks that it parses); as JSON, it is stored compact
  const bytes = type === 'json' && encoding === undefined ? Buffer.from(JSON.stringify(value), 'utf8') : toBytes(value as string, encoding ?? (type === 'binary' ? 'base64' : 'utf8'))
  return { key, value: bytes, type, ifVersion, ifAbsent, ttlMs, keepalive }
}

function validate<M extends MethodName> (method: M, params: unknown): Params<M> {
  if (Array.isArray(params)) throw rpcError('InvalidParams', `${method} takes named params (an object), not an array`)
  const parsed = methods[method].safeParse(params ?? {})
  if (parsed.success) return parsed.data as Params<M>
  const issue = parsed.error.issues[0]
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : ''
  throw rpcError('InvalidParams', `invalid params for ${method}: ${where}${issue?.message ?? 'invalid'}`, {
    issues: parsed.error.issues.map(i => ({ path: i.path.map(String), message: i.message }))
  })
}

function toBytes (value: string, encoding?: ValueEncoding): Uint8Array {
  try {
    return decodeValue(value, encoding)
  } catch (err) {
    if (err instanceof InvalidBase64Error) throw rpcError('InvalidParams', `invalid params for kv_put: value: ${err.message}`)
    throw err
  }
}

function toWireHistory (entry: HistoryVersion, encoding?: ValueEncoding): HistoryEntry {
  const { key: _key, value, type, conflictCursor, ...rest } = entry
  const wireValue = value === undefined ? {} : encodeTypedValue(value, type, encoding)
  return { ...wireValue, ...rest, conflict: conflictCursor !== undefined, ...(conflictCursor !== undefined ? { conflictCursor } : {}) }
}

function toWireEntry (entry: Entry, encoding?: ValueEncoding): WireEntry {
  return { key: entry.key, ...encodeTypedValue(entry.value, entry.type, encoding), version: entry.version, ...expiresOf(entry) }
}

function expiresOf ({ expires }: { expires?: number }): { expires?: number } {
  return expires !== undefined ? { expires } : {}
}

/**
 * A replay as the notifications that carry it, a page at a time: changes or
 * snapshot pages, then `ready`; nothing more once the subscription is gone.
 */
function replaySource (subscription: string, reader: ReplayReader, connection: Connection, encoding?: ValueEncoding): ReplaySource {
  let ready = false
  return {
    page: () => {
      if (ready || !connection.subscriptions.has(subscription)) return undefined
      const page = reader.next()
      let results: WatchEvent[]
      if (page === undefined) {
        ready = true
        results = [{ type: 'ready', cursor: reader.cursor }]
      } else if ('changes' in page) {
        results = page.changes.map(event => toWireChange(event, encoding))
      } else {
        results = [{ type: 'snapshot', entries: page.snapshot.map(entry => toWireEntry(entry, encoding)), last: page.last, cursor: reader.cursor }]
      }
      return results.map(result => ({ jsonrpc: '2.0', method: SUBSCRIPTION_NOTIFICATION, params: { subscription, result } }))
    }
  }
}

function toWireChange (event: ChangeEvent, encoding?: ValueEncoding): WireChange {
  const cursor = event.cursor !== undefined ? { cursor: event.cursor } : {}
  if (event.value == null) return { type: event.type, key: event.key, version: event.version, ...cursor, ...(event.deleted === true ? { deleted: true } : {}) }
  const { type: valueType, ...value } = encodeTypedValue(event.value, event.valueType ?? 'text', encoding)
  return { type: event.type, key: event.key, ...value, valueType, version: event.version, ...expiresOf(event), ...cursor }
}
