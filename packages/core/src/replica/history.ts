/**
 * What a replica keeps of each user key's past, for `history` on this node:
 * every version replaced, lost on arrival or collected, up to a bound, with
 * the versions that lost to a write that had not seen them marked as
 * conflicts (the rule: `conflicts.ts`). Called inside the transactions that
 * apply ops, collect tombstones and take snapshots.
 *
 * The bound counts versions newest first, the current row included (a
 * collected tombstone, which leaves no row, counts as the newest past
 * version instead): that follows from the versions held, not from the order
 * they arrived in, so replicas that hold the same ops of a key keep the same
 * past versions of it. Of those it keeps only the newest whose values fit a
 * byte budget. The store remembers the newest version it trimmed of each key
 * and keeps nothing at or below it again: a version trimmed for its bytes
 * would otherwise leave room for an older one that arrives later, which a
 * replica that held both never kept.
 *
 * A keepalive refresh (`Op.refresh`) is not a version here: it is never kept
 * as a past version and marks nothing, and a write that loses to one is
 * judged by the versions that are not refreshes, so a key's history is what
 * it would be had its refreshes never been written (but for the current row,
 * which takes its slot whatever it is). That too follows from the ops held:
 * a refresh, once replaced, leaves nothing a later arrival could be measured
 * against on one replica and not on another. A presence key refreshed every
 * few seconds keeps its real versions.
 */
import { compareVersions } from '../compare.js'
import { isReserved } from '../keys.js'
import { concurrent } from './conflicts.js'
import type { Head, Op, PastVersion, RowHead, Store, Version } from '../types.js'

export interface HistoryBound {
  /** Versions of a key kept, the current one included. */
  versions: number
  /** Bytes of past values kept per key. */
  bytes: number
}

export class KeyHistory {
  /** Past versions found to be conflicts, in the order found. */
  readonly conflicts: PastVersion[] = []
  private readonly store: Store
  private readonly bound: HistoryBound
  /** This node's own writes: each saw the newest version held, so none can make a conflict here. */
  private readonly local: boolean

  constructor (store: Store, bound: HistoryBound, local = false) {
    this.store = store
    this.bound = bound
    this.local = local
  }

  /**
   * `row`, the current row of its key, is about to be replaced or removed: it
   * becomes a past version, a conflict if a newer past version had not seen
   * it (a row older than a past version: an old op taken after its key's
   * delete was collected), as it would be had it arrived after that version.
   */
  replaced (row: Version & { key: string }): void {
    if (isReserved(row.key)) return
    if (!this.store.past.unseenByNewer(row)) {
      this.store.past.keepRow(row.key)
      return
    }
    const current = this.store.row(row.key)
    const marked = current === undefined ? undefined : this.store.past.keepCurrent(current, true)
    if (marked !== undefined) this.conflicts.push(marked)
  }

  /**
   * `op` is about to replace `row`, the current row of a key with no past
   * versions yet (`RowHead.pastless`): the row becomes its only one, a
   * conflict if `op` had not seen it. That is what `replaced`, then `won`,
   * would find, without their queries: nothing older to mark. Returns
   * whether `won` may be skipped: the one past version is within the bound.
   */
  replacedAlone (op: Op, row: RowHead & { asPast: Op }): boolean {
    if (isReserved(op.key)) return true
    const marked = this.store.past.keepCurrent(row.asPast, !this.local && op.refresh !== true && concurrent(row, op))
    if (marked !== undefined) this.conflicts.push(marked)
    return this.bound.versions > 1 && row.bytes !== undefined && row.bytes <= this.bound.bytes
  }

  /**
   * `op` became the row of its key: the past versions it had not seen are
   * conflicts. `found`: how many conflicts were found before `op` replaced
   * its row (those after were found placing it).
   */
  won (op: Op, found: number): void {
    if (isReserved(op.key)) return
    if (!this.local && op.refresh !== true) this.beat(op)
    // a write of this node's that saw nothing of its key: it has no past versions to trim
    if (this.local && op.seen?.wall === 0) return
    const gone = this.store.past.trim(op.key, this.bound.versions - 1, this.bound.bytes)
    // a version the bound drops at once was never history here (as in `lost`): no conflict to report
    for (let i = this.conflicts.length - 1; i >= found && gone.length > 0; i--) {
      const marked = this.conflicts[i] as PastVersion
      if (marked.op.key === op.key && gone.some(v => compareVersions(v, marked.op) === 0)) this.conflicts.splice(i, 1)
    }
  }

  /**
   * `op` lost on arrival, to the row `current` (or, with none, to an op
   * collected here): it is a conflict if a newer version had not seen it,
   * and the older ones it had not seen are. `pastless`: the key has no past
   * versions yet (`RowHead.pastless`), so `op` becomes its only one, with
   * nothing newer or older to compare it with, and no query is needed.
   */
  lost (op: Op, digest: Uint8Array, current: Head | undefined, pastless = false): void {
    if (isReserved(op.key) || op.refresh === true) return
    const conflict = (current !== undefined && current.refresh !== true && concurrent(op, current)) || (!pastless && this.store.past.unseenByNewer(op))
    // marked as it goes in; or, were this version kept already, marked where it is
    const marked = this.store.past.keep(op, digest, conflict, pastless) ?? (conflict && !pastless ? this.store.past.mark(op) : undefined)
    const versions = this.bound.versions - (current === undefined ? 0 : 1)
    const alone = pastless && versions >= 1 && (op.value?.length ?? 0) <= this.bound.bytes
    const gone = alone ? [] : this.store.past.trim(op.key, versions, this.bound.bytes)
    // a version the bound drops at once was never history here: no conflict to report
    if (marked !== undefined && !gone.some(v => compareVersions(v, op) === 0 && Buffer.compare(v.digest, digest) === 0)) this.conflicts.push(marked)
    if (!pastless) this.beat(op)
  }

  /** Marks the past versions older than `op` that it had not seen. */
  private beat (op: Op): void {
    if (op.seen !== undefined) this.conflicts.push(...this.store.past.markBetween(op.key, op.seen, op))
  }
}
