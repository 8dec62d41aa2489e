/** What the library API hands out for a key and for a change, and the events a node emits. */
import { versionOf } from './conditions.js'
import { DEFAULT_LIST_LIMIT, rpcError, type PeerInfo } from '@murmur/protocol'
import type { Op, PastVersion, Replica, ValueType, Version } from '@murmur/core'

export type { ValueType } from '@murmur/core'

export interface Entry {
  key: string
  value: Uint8Array
  type: ValueType
  version: Version
  /** When the value expires (HLC wall ms), if it does. */
  expires?: number
}

export type PeerSummary = PeerInfo

export interface MurmurEvents {
  change: [ChangeEvent]
  'peer:member': [PeerSummary]
}

export interface ChangeEvent {
  /** 'expire': the value's expiry passed (the key reads as absent, as after a delete). `conflict`: the version `version` of the key (its `value`; none when `deleted`) lost to a write that had not seen it. */
  type: 'put' | 'delete' | 'expire' | 'conflict'
  key: string
  value?: Uint8Array
  /** A put's value type. */
  valueType?: ValueType
  version: Version
  /** A put's expiry (HLC wall ms), if it has one. */
  expires?: number
  /** 'local' for this node's writes, else the peer ID the op came through ('held' for ops the clock let through; 'replay' for what a resumed watch replays; 'expire' for the expiry sweep). */
  source: string
  /** This node's number for the change (see `Murmur.changesSince`); events leave in its order. */
  cursor?: number
  /** A conflict whose losing version was a delete. */
  deleted?: boolean
}

/** A live row as an entry. */
export function entryOf (op: Op): Entry {
  return { key: op.key, value: op.value as Uint8Array, type: op.type ?? 'text', version: versionOf(op), ...expiresOf(op) }
}

/**
 * The most value bytes a page of entries holds (`kv_list`, a resumed watch's
 * snapshot), besides its first entry: a page of 1,000 values of 1 MiB, which
 * any member may write, made an answer longer than V8's longest string
 * (~512 MiB), and murmurd crashed encoding it.
 */
export const MAX_PAGE_VALUE_BYTES = 16 * 1024 * 1024

/** Rows a page reads from the store at a time (64 MiB of values at most). */
const PAGE_CHUNK = 64

/**
 * Up to `limit` live rows under `prefix` after `after`, in key order, holding at
 * most `maxBytes` of values (one more row while none is taken, if `atLeastOne`);
 * `more`: rows are left.
 */
export function readPage (replica: Replica, prefix: string | undefined, after: string | undefined, limit: number, maxBytes = MAX_PAGE_VALUE_BYTES, atLeastOne = true): { ops: Op[], bytes: number, more: boolean } {
  const ops: Op[] = []
  let bytes = 0
  for (let from = after; ;) {
    const want = Math.min(PAGE_CHUNK, limit - ops.length)
    const chunk = replica.list({ prefix, after: from, limit: want + 1 })
    for (const op of chunk.slice(0, want)) {
      const size = op.value?.byteLength ?? 0
      if ((ops.length > 0 || !atLeastOne) && bytes + size > maxBytes) return { ops, bytes, more: true }
      ops.push(op)
      bytes += size
    }
    if (chunk.length <= want) return { ops, bytes, more: false }
    if (ops.length >= limit) return { ops, bytes, more: true }
    from = ops[ops.length - 1]?.key
  }
}

/** Live entries of `replica` in key order, a page at a time (`next`: the `after` of the next page), `MAX_PAGE_VALUE_BYTES` of values at most. */
export function listEntries (replica: Replica, options: { prefix?: string, after?: string, limit?: number }): { items: Entry[], next?: string } {
  const limit = checkLimit(options.limit) ?? DEFAULT_LIST_LIMIT
  const { ops, more } = readPage(replica, options.prefix, options.after, limit)
  const items = ops.map(entryOf)
  return more ? { items, next: items[items.length - 1]?.key ?? options.after } : { items }
}

/**
 * A page size a library caller gave, checked as the RPC checks it: SQLite took
 * a fraction for a datatype mismatch, and 0 or less for a last page, or none.
 */
export function checkLimit (limit: number | undefined): number | undefined {
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1)) throw rpcError('InvalidParams', `limit must be a whole number of at least 1; got ${String(limit)}`)
  return limit
}

/** The conflict event for a past version found to have lost to a write that had not seen it. */
export function conflictEventOf (past: PastVersion, source: string): ChangeEvent {
  const { op } = past
  const base = { type: 'conflict' as const, key: op.key, version: versionOf(op), source, ...(past.conflict !== undefined ? { cursor: past.conflict } : {}) }
  return op.value == null ? { ...base, deleted: true } : { ...base, value: op.value, valueType: op.type ?? 'text' }
}

/**
 * The change event for an op that became its key's row (a removed row: the
 * op with a null value); `expired`: its expiry is one the sweep passed (see
 * `Replica.sweptExpiry`), so watchers hear `expire`.
 */
export function changeEventOf (op: Op, source: string, cursor: number | undefined, expired = false): ChangeEvent {
  const base = { key: op.key, version: versionOf(op), source, ...(cursor !== undefined ? { cursor } : {}) }
  if (op.value == null) return { type: 'delete', ...base }
  return expired ? { type: 'expire', ...base } : { type: 'put', value: op.value, valueType: op.type ?? 'text', ...expiresOf(op), ...base }
}

function expiresOf (op: Op): { expires?: number } {
  return op.expires !== undefined ? { expires: op.expires } : {}
}

/**
 * The events for a peer's changes and the conflicts they made, in cursor
 * order (events without a cursor last): each op's change was numbered as it
 * became its key's row, a conflict as it was found, so the two interleave.
 */
export function peerEvents (changed: Op[], conflicts: PastVersion[], source: string, cursorOf: (op: Op) => number | undefined, expired: (op: Op) => boolean): Array<{ cursor: number | undefined, event: () => ChangeEvent }> {
  const events = [
    ...changed.map(op => { const cursor = cursorOf(op); return { cursor, event: () => changeEventOf(op, source, cursor, expired(op)) } }),
    ...conflicts.map(past => ({ cursor: past.conflict, event: () => conflictEventOf(past, source) }))
  ]
  return events.sort((x, y) => (x.cursor ?? Infinity) - (y.cursor ?? Infinity))
}
