/**
 * Garbage collection: once every member holds an origin's ops up to a seq
 * (see `stability.ts`), that seq becomes the origin's floor, `floorLagMs`
 * (by default the grace period) later. Ops that lost (history) at or below
 * it go then; tombstones at or below it go once they are older than the
 * grace period too, which gives a node the group has not heard of yet time
 * to show up, and so do values whose expiry is that old (see `expiry.ts`):
 * an expired value is a tombstone stamped with its write.
 *
 * The wait keeps snapshots for nodes that were away. Ops are superseded all
 * the time (each member's attestation replaces its last, every second while
 * ops arrive); were they dropped the moment every member held them, a node
 * that missed one by gossip, or a new node, would find itself behind the
 * floors and need a snapshot of the whole map, where an ordinary pull of
 * what it lacks does. The newest tombstone collected raises the
 * horizon: gossip older than it is taken only from origins shown to have
 * seen everything collected.
 */
import { headOf } from '../compare.js'
import { expiryClock } from './expiry.js'
import { KeyHistory } from './history.js'
import { noteSilent, raiseHorizon, type ReplicaState } from './state.js'
import type { OriginState } from '../types.js'

export interface Collected {
  /** Superseded ops dropped from history. */
  history: number
  /** Tombstones (and expired values) removed. */
  tombstones: number
  /** Why nothing could be collected beyond the current floors, if so. */
  blocked?: string
}

export function collect (state: ReplicaState, now: number): Collected {
  const result: Collected = { history: 0, tombstones: 0 }
  noteSilent(state, now)
  const cut = state.stability.cut(now)
  if ('blocked' in cut) result.blocked = cut.blocked
  state.blocked = result.blocked
  const floors = new Map<string, OriginState>()
  const due = 'cut' in cut ? dueCut(state, now, cut.cut) : undefined
  if ('cut' in cut && due !== undefined) {
    for (const [origin, then] of due) {
      // never past what every member holds now: the members may have changed since (one more, one evicted no longer)
      const seq = Math.min(then, cut.cut.get(origin) ?? 0)
      const known = state.origins.get(origin)
      if (known === undefined || seq <= known.floor.seq) continue
      const acc = state.stability.accAt(origin, seq)
      const stamp = state.stability.stampAt(origin, seq)
      if (acc === undefined || stamp === undefined) continue
      floors.set(origin, { held: known.held, floor: { seq, wall: stamp.wall, logical: stamp.logical, acc } })
    }
  }
  const grace = state.config.tombstoneGraceMs
  const history = new KeyHistory(state.store, state.history)
  state.store.transaction(() => {
    for (const [origin, next] of floors) state.store.setOrigin(origin, next)
    for (const [origin, known] of state.origins) {
      const floor = (floors.get(origin) ?? known).floor.seq
      if (floor === 0) continue
      // ops that lose at or below a floor are not kept (apply.ts): only a floor that moved leaves history to drop
      if (floors.has(origin)) result.history += state.store.dropHistory(origin, floor)
      // a tombstone goes once it is `tombstoneGraceMs` old; an expired value once its expiry is, by the expiry clock
      for (const tombstone of state.store.tombstones(origin, floor, now - grace + 1, expiryClock(state, now) - grace + 1)) {
        // kept as the key's newest past version: the next write of the key says it saw it
        history.replaced(tombstone)
        state.store.remove(headOf(tombstone))
        raiseHorizon(state, tombstone)
        result.tombstones++
      }
    }
  })
  for (const [origin, next] of floors) {
    state.origins.set(origin, next)
    state.pending.dropUpTo(origin, next.floor.seq)
  }
  if (floors.size > 0) state.floorsMoved++
  return result
}

/** Remembers `cut` (every eighth of the lag at most) and returns the newest remembered cut at least the lag old, if any. */
function dueCut (state: ReplicaState, now: number, cut: Map<string, number>): Map<string, number> | undefined {
  const lag = state.config.floorLagMs
  const last = state.cuts.at(-1)
  if (last === undefined || now - last.at >= lag / 8) state.cuts.push({ at: now, cut: new Map(cut) })
  let due: Map<string, number> | undefined
  while (state.cuts.length > 0 && (state.cuts[0] as { at: number }).at <= now - lag) due = state.cuts.shift()?.cut
  return due
}
