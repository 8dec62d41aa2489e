/**
 * The types of a key's past versions, kept for `history` on each node alone
 * (see `replica/history.ts`); `types.ts` re-exports them.
 */
import type { Op, Seen, Version } from './types.js'

/**
 * An earlier version of a user key, kept for `history` on this node alone
 * (never replicated, never served): an op that was replaced or lost on
 * arrival, or a collected tombstone. Separate from the superseded ops a
 * replica keeps for its peers until every member holds them.
 */
export interface PastVersion {
  /** The op, without its proof. */
  op: Op
  /** The change cursor at which it was found to have lost to a write that had not seen it; absent when it did not. */
  conflict?: number
}

/** A past version the bound removed. */
export type Trimmed = Version & { digest: Uint8Array }

/**
 * The past versions of user keys (see `replica/history.ts`, which decides
 * what goes in, what is a conflict and what is trimmed). Mutations run
 * inside the store's transactions. A refresh (`Op.refresh`) is never kept:
 * `keepRow`, `keepCurrent` and `keep` pass one by.
 */
export interface PastStore {
  /** Keeps the current row of `key` as a past version (before it is replaced or removed). */
  keepRow(key: string): void
  /**
   * Keeps the current row of `row.key`, which the caller read as `row`
   * (`RowHead.asPast`), as `keepRow` does; when `conflict`, marked as one
   * with a new change cursor and returned, with `row` as its op (unless that
   * version was kept already).
   */
  keepCurrent(row: Op, conflict: boolean): PastVersion | undefined
  /**
   * Keeps `op` (whose digest is `digest`) as a past version; when `conflict`,
   * marked as one with a new change cursor and returned (unless that version
   * was kept already, or was trimmed before). `pastless`: the caller knows
   * the key has no past versions and none trimmed.
   */
  keep(op: Op, digest: Uint8Array, conflict?: boolean, pastless?: boolean): PastVersion | undefined
  /**
   * The version of each of `keys` (user keys) a write here now has seen: the
   * newer of its row's and its newest past version's (a row can be the older:
   * an old op taken after its key's delete was collected); none for a key
   * with neither. `rows`: the keys' rows, read already (`Store.rowsAt`): a
   * key not in it has none, and one it says is `pastless` has no past.
   */
  newest(keys: string[], rows?: ReadonlyMap<string, Seen & { pastless?: boolean }>): Map<string, Seen>
  /** Those of `keys` with past versions or a trimmed floor (the rest are `pastless`), in one query. */
  withPast(keys: string[]): Set<string>
  /**
   * Marks as conflicts, each with a new change cursor, the past versions of
   * `key` above `seen` and below `winner` not marked yet; returns them.
   */
  markBetween(key: string, seen: Seen, winner: Version): PastVersion[]
  /** Whether a past version of `op.key` newer than `op` had seen less than `op` (a `seen` below it). */
  unseenByNewer(op: Version & { key: string }): boolean
  /** Marks `op` (a past version) as a conflict with a new change cursor, unless it is one or is gone; returns it. */
  mark(op: Op): PastVersion | undefined
  /** Keeps only the newest `versions` past versions of `key`, and of those only the newest whose values fit `bytes`; returns the versions it removed, with their digests. */
  trim(key: string, versions: number, bytes: number): Trimmed[]
  /** Past versions of `key`, newest first, at most `limit`. */
  list(key: string, limit: number): PastVersion[]
  /** Past versions marked as conflicts with a cursor above `after`, in cursor order, at most `limit`. */
  conflictsAfter(after: number, limit: number): PastVersion[]
  /** How many past versions are marked as conflicts. */
  conflicts(): number
}
