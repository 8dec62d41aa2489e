/**
 * What a store's reads take and give besides ops (`types.ts` re-exports
 * them): listing options, counts and change cursors.
 */
import type { Op, OpProof } from './types.js'

export interface ListOptions {
  /** Only keys that start with this string. */
  prefix?: string
  /** Only keys that sort strictly after this one (a cursor for paging). */
  after?: string
  /** At most this many entries. */
  limit?: number
}

export interface RowOptions extends ListOptions {
  /** Tombstones too. */
  tombstones?: boolean
  /** Keys under U+0000 (murmur's own records) too. */
  reserved?: boolean
  /**
   * Only rows live at this HLC wall time: a value that expired by then is
   * left out as a tombstone is (ignored with `tombstones`).
   */
  liveAt?: number
  /** Whole proofs, for sending; otherwise a signed op's proof carries only its signature. */
  proofs?: boolean
  /**
   * With `proofs`: proofs read by earlier calls, by signature, so ops of one
   * batch share one proof object (and one read) across calls too.
   */
  proofCache?: Map<string, OpProof | null>
}

export interface StoreCounts {
  /** User keys with a live value (murmur's own records, under U+0000, are not counted). */
  keys: number
  /** User keys whose latest op is a delete. */
  tombstones: number
}

/** This replica's change cursors (see `Store.changes`). */
export interface ChangeMarks {
  /** The cursor of the latest change. */
  latest: number
  /** Changes at or below it may be gone: a watcher that saw less must start from the current state. */
  floor: number
}

/** A user key's latest change on this replica: its cursor and its row (a tombstone for a delete). */
export interface ChangeRecord {
  cursor: number
  op: Op
}
