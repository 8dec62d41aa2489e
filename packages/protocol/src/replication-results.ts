/** node_status's `replication`: collection, waiting ops, conflicts, change cursors, anti-entropy's pace; `results.ts` re-exports it. */

/** What every member holds, and what this node may therefore collect. */
export interface ReplicationStatus {
  /** Members counted for garbage collection, this node included. */
  members: number
  /** Members silent for longer than the retention: they no longer hold collection back. */
  evicted: string[]
  /** Origin → the seq up to which every member holds its ops (what is superseded at or below it is collected). */
  floors: Record<string, number>
  /** Why collection waits, if it does (a member that has not attested yet, or disagrees with this node). */
  collectionBlocked?: string
  /** Ops received that wait for an earlier op of their origin or for the clock. */
  waiting: number
  waitingBytes: number
  /** Origins seen signing two different ops with one sequence number, and the first such seq: both ops are kept. */
  equivocators: Record<string, number>
  /** Past versions in history that lost to a write that had not seen them (absent from daemons before history). */
  conflicts?: number
  /**
   * This node's change cursors: `cursor`, the latest change's; a watch with
   * `since` from `floor` to `cursor` replays what changed after it, one below
   * `floor` gets a snapshot (absent from daemons before this field).
   */
  changes?: { cursor: number, floor: number }
  /** Absent from daemons before the pace. */
  antiEntropy?: AntiEntropyStatus
}

/** Anti-entropy's pace: each pull that brings nothing doubles the wait (up to the bound); activity resets it. */
export interface AntiEntropyStatus {
  /** The configured mean wait, and the bound on any wait. */
  intervalMs: number
  maxIntervalMs: number
  /** The mean wait now, and until the next pull. */
  waitMs: number
  nextInMs: number
  /** Anti-entropy pulls started since the node started. */
  pulls: number
}
