/**
 * The conflict rule: which writes lost to a write that had not seen them.
 *
 * Every op a node writes carries `seen`: the version (stamp and origin) of
 * the newest version of its key that node's replica held when it wrote (the
 * row it replaced, a tombstone included, or the newest past version when that
 * is newer: the row was a collected tombstone, or an old op taken after one),
 * or `NOTHING_SEEN` when it held none.
 *
 * A loser L and a newer op W of the same key (W ranks above L) are
 * *concurrent* exactly when W has a `seen` and that `seen` is below L's
 * version: W's writer had not seen L. Deletes are ops like any other, as
 * winner or loser. An op without `seen` (written by a node before history)
 * is never a W of a concurrent pair: such pairs are not classified.
 *
 * A past version L is a *conflict* when some op W of its key that this node
 * holds is concurrent with it. Both are ops: whatever order they arrive in,
 * every replica that holds L and W classifies the pair the same way, and one
 * that holds the same ops of a key reports the same conflicts. Being marked
 * a conflict never removes a version: the history bound alone does that.
 */
import { compareStamps, compareVersions } from '../compare.js'
import type { Op, Seen, Version } from '../types.js'

/** `seen` of a write whose replica held no version of its key: below every version. */
export function nothingSeen (origin: string): Seen {
  return { wall: 0, logical: 0, origin }
}

/** Orders a `seen` against a version (or another `seen`) by stamp, then origin (a `seen` names no seq). */
export function compareSeen (seen: Seen, version: Seen): number {
  return compareStamps(seen, version) || (seen.origin < version.origin ? -1 : seen.origin > version.origin ? 1 : 0)
}

/** The newer of two versions a write may have seen (a row older than a past version: an old op taken after a collected delete). */
export function newerSeen (a: Seen | undefined, b: Seen | undefined): Seen | undefined {
  if (a === undefined || b === undefined) return a ?? b
  return compareSeen(a, b) >= 0 ? a : b
}

/** Whether `winner` is newer than `loser` and had not seen it: the rule above. */
export function concurrent (loser: Version, winner: Version & { seen?: Seen }): boolean {
  return winner.seen !== undefined && compareVersions(loser, winner) < 0 && compareSeen(winner.seen, loser) < 0
}

/** What `op` says its writer had seen, as history shows it: a version, nothing, or unknown (an op without `seen`). */
export function seenKind (op: Op): Seen | 'nothing' | undefined {
  return op.seen === undefined ? undefined : op.seen.wall === 0 ? 'nothing' : op.seen
}
