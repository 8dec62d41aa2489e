/** What the library API hands out for a key and for a change. */
import { versionOf } from './conditions.js'
import type { Op, ValueType, Version } from '@murmur/core'

export type { ValueType } from '@murmur/core'

export interface Entry {
  key: string
  value: Uint8Array
  type: ValueType
  version: Version
}

export interface ChangeEvent {
  type: 'put' | 'delete'
  key: string
  value?: Uint8Array
  /** A put's value type. */
  valueType?: ValueType
  version: Version
  /** 'local' for this node's writes, else the peer ID the op came through ('held' for ops the clock let through). */
  source: string
}

/** A live row as an entry. */
export function entryOf (op: Op): Entry {
  return { key: op.key, value: op.value as Uint8Array, type: op.type ?? 'text', version: versionOf(op) }
}
