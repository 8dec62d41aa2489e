/** What a replica reports of itself (`Replica.status`). */
import type { ReplicaState } from './state.js'
import type { Stamp, VersionVector } from '../types.js'

export interface ReplicaStatus {
  /** Past versions held that lost to a write that had not seen them (see `conflicts.ts`). */
  conflicts: number
  /** Members counted for collection (this node included), and those evicted for silence. */
  members: number
  evicted: string[]
  /** Origin → seq up to which every member holds its ops. */
  floors: VersionVector
  /** Why collection is held back, if it is. */
  blocked?: string
  /** Ops waiting for an earlier op of their origin or for the clock, and their bytes. */
  waiting: number
  waitingBytes: number
  /**
   * Of those, ops the clock will let through: stamped beyond the clock-skew bound, but no further than the
   * longest hold. One stamped further waits only for an earlier op of its origin, and is refused once that comes.
   */
  held: number
  /** Origins seen signing two different ops with one seq, and the first such seq. */
  equivocators: Record<string, number>
  /** The newest tombstone collected here. */
  horizon: Stamp
}

/** The replica's status at `now`. */
export function replicaStatus (state: ReplicaState, now: number): ReplicaStatus {
  const { active, evicted } = state.stability.members(now)
  return {
    conflicts: state.store.past.conflicts(),
    members: active.length + 1,
    evicted,
    floors: Object.fromEntries([...state.origins].filter(([, known]) => known.floor.seq > 0).map(([origin, known]) => [origin, known.floor.seq])),
    ...(state.blocked != null ? { blocked: state.blocked } : {}),
    waiting: state.pending.size,
    waitingBytes: state.pending.bytes,
    held: state.pending.countWhere(op => op.wall > now + state.config.maxClockSkewMs && op.wall <= now + state.config.maxHoldMs),
    equivocators: Object.fromEntries(state.equivocators),
    horizon: { ...state.horizon }
  }
}
