/**
 * Garbage collection: once every member holds an origin's ops up to a seq
 * (see `stability.ts`), that seq becomes the origin's floor. Ops that lost
 * (history) at or below it go at once; tombstones at or below it go once
 * they are older than the grace period, which gives a node the group has not
 * heard of yet time to show up. The newest tombstone collected raises the
 * horizon: gossip older than it is taken only from origins shown to have
 * seen everything collected.
 */
import { noteSilent, raiseHorizon, type ReplicaState } from './state.js'
import type { OriginState } from '../types.js'

export interface Collected {
  /** Superseded ops dropped from history. */
  history: number
  /** Tombstones removed. */
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
  if ('cut' in cut) {
    for (const [origin, seq] of cut.cut) {
      const known = state.origins.get(origin)
      if (known === undefined || seq <= known.floor.seq) continue
      const acc = state.stability.accAt(origin, seq)
      const stamp = state.stability.stampAt(origin, seq)
      if (acc === undefined || stamp === undefined) continue
      floors.set(origin, { held: known.held, floor: { seq, wall: stamp.wall, logical: stamp.logical, acc } })
    }
  }
  state.store.transaction(() => {
    for (const [origin, next] of floors) state.store.setOrigin(origin, next)
    for (const [origin, known] of state.origins) {
      const floor = (floors.get(origin) ?? known).floor.seq
      if (floor === 0) continue
      // ops that lose at or below a floor are not kept (apply.ts): only a floor that moved leaves history to drop
      if (floors.has(origin)) result.history += state.store.dropHistory(origin, floor)
      // a tombstone goes once it is `tombstoneGraceMs` old
      for (const tombstone of state.store.tombstones(origin, floor, now - state.config.tombstoneGraceMs + 1)) {
        state.store.remove(tombstone)
        raiseHorizon(state, tombstone)
        result.tombstones++
      }
    }
  })
  for (const [origin, next] of floors) {
    state.origins.set(origin, next)
    state.pending.dropUpTo(origin, next.floor.seq)
  }
  return result
}
