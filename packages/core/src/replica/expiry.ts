/**
 * Expiry: a value written with a TTL carries, inside its signed op, the HLC
 * wall time at which it expires (`Op.expires`). The rule, the same on every
 * replica and needing no coordinator:
 *
 * - Ranking never looks at the expiry: the row of a key is the winner of
 *   last-writer-wins over its ops' versions, as ever, so replicas that hold
 *   the same ops hold the same row, expired or not, byte for byte.
 * - Visibility does: a row whose `expires` is at or below this node's time
 *   (the later of its physical clock and the highest HLC stamp it has issued
 *   or seen) reads as absent, in get, list, a watch's snapshot and a
 *   conditional write's check. Two replicas that hold the same row agree on
 *   it at every HLC moment; a node that has seen any op stamped at or after
 *   the expiry reads the key as absent. An offline node agrees once its own
 *   clock passes the expiry, with nothing to hear from anyone.
 * - An expired row is kept as its key's row, like a tombstone: any older op
 *   (stamped before the write that expired) still loses to it, whenever and
 *   however it arrives, so an expired key never comes back from an older op.
 *   Only a newer write brings the key back.
 * - It is collected as a tombstone is (`collect.ts`), with its write's stamp
 *   standing for the tombstone's: once every member holds it (its origin's
 *   floor covers it) and its expiry is `tombstoneGraceMs` old by this node's
 *   expiry clock (so nodes whose physical clocks differ still collect it at
 *   about the same time, as long as stamps flow between them). Collecting it
 *   raises the GC horizon to that stamp, so an older op that turns up later
 *   is measured against it as against a collected delete.
 *
 * A peer's expiry is a claim like any other, signed by its writer: one far in
 * the future makes a value that lives that long (a member could write it
 * without an expiry at all); one at or before the write's own stamp makes a
 * value no replica ever shows, a delete in effect. Neither changes ranking,
 * so neither can make replicas disagree.
 *
 * The sweep (`sweep`) is local bookkeeping for watchers: each row whose
 * expiry it passes gets a new change cursor, so a watch (live or resumed)
 * hears `expire` for it. Reads never wait for it.
 */
import type { ReplicaState } from './state.js'
import type { Op } from '../types.js'

/** This node's time for expiry: the later of its physical clock and its HLC (a stamp seen from a peer moves it on). */
export function expiryClock (state: ReplicaState, now = state.now()): number {
  return Math.max(Math.floor(now), state.hlc.peek().wall)
}

/** Whether `op`'s value has expired at `at` (an HLC wall time). */
export function isExpired (op: Pick<Op, 'expires'>, at: number): boolean {
  return op.expires !== undefined && op.expires <= at
}

/**
 * Gives each live row whose expiry fell since the last sweep a new change
 * cursor, in one transaction, and returns them in expiry order. The mark it
 * reached is kept in `meta` when it expired anything, so a restart sweeps
 * what expired while the node was down.
 */
export function sweep (state: ReplicaState, now = state.now()): Op[] {
  const upTo = expiryClock(state, now)
  if (upTo <= state.swept) return []
  const expired = state.store.expiring(state.swept, upTo, -1)
  if (expired.length > 0) {
    state.store.transaction(() => {
      for (const op of expired) state.store.touch(op)
      state.store.setMeta('expiry_swept', String(upTo))
    })
  }
  state.swept = upTo
  return expired
}
