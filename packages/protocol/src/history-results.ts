/** What `kv_history` (and `kv_get` with `conflicts`) returns for each version of a key; `results.ts` re-exports it. */
import type { Version, WireValueType } from './results.js'

/**
 * One version of a key in kv_history: its value (none for a delete), who
 * wrote it and when (`version.wall`), what its writer had seen of the key,
 * and whether it lost to a write that had not seen it.
 */
export interface HistoryEntry {
  value?: unknown
  encoding?: 'base64'
  type?: WireValueType
  deleted: boolean
  version: Version
  /** The writer's node name, when this node knows it (its own, a peer's from the handshake or the peer book). */
  originName?: string
  /** The version of the key its writer held when it wrote ('nothing': none); absent for writes from nodes before history. */
  seen?: { wall: number, logical: number, origin: string } | 'nothing'
  /** The key's current version (the first entry). */
  current: boolean
  /** It lost to a write that had not seen it; `conflictCursor`: the change cursor at which that was found. */
  conflict: boolean
  conflictCursor?: number
}
