/** What the library API hands out for a key and for a change. */
import { versionOf } from './conditions.js'
import type { Op, PastVersion, ValueType, Version } from '@murmur/core'

export type { ValueType } from '@murmur/core'

export interface Entry {
  key: string
  value: Uint8Array
  type: ValueType
  version: Version
}

export interface ChangeEvent {
  /** `conflict`: the version `version` of the key (its `value`; none when `deleted`) lost to a write that had not seen it. */
  type: 'put' | 'delete' | 'conflict'
  key: string
  value?: Uint8Array
  /** A put's value type. */
  valueType?: ValueType
  version: Version
  /** 'local' for this node's writes, else the peer ID the op came through ('held' for ops the clock let through; 'replay' for what a resumed watch replays). */
  source: string
  /** This node's number for the change (see `Murmur.changesSince`); events leave in its order. */
  cursor?: number
  /** A conflict whose losing version was a delete. */
  deleted?: boolean
}

/** A live row as an entry. */
export function entryOf (op: Op): Entry {
  return { key: op.key, value: op.value as Uint8Array, type: op.type ?? 'text', version: versionOf(op) }
}

/** The conflict event for a past version found to have lost to a write that had not seen it. */
export function conflictEventOf (past: PastVersion, source: string): ChangeEvent {
  const { op } = past
  const base = { type: 'conflict' as const, key: op.key, version: versionOf(op), source, ...(past.conflict !== undefined ? { cursor: past.conflict } : {}) }
  return op.value == null ? { ...base, deleted: true } : { ...base, value: op.value, valueType: op.type ?? 'text' }
}

/** The change event for an op that became its key's row (a removed row: the op with a null value). */
export function changeEventOf (op: Op, source: string, cursor: number | undefined): ChangeEvent {
  const base = { key: op.key, version: versionOf(op), source, ...(cursor !== undefined ? { cursor } : {}) }
  return op.value == null ? { type: 'delete', ...base } : { type: 'put', value: op.value, valueType: op.type ?? 'text', ...base }
}
