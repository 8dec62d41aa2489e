/** What a pull's frames and its end report (see `PullSession`). */
import type { Refusal } from '../replica/checker.js'
import type { Change, Op, PastVersion, VersionVector } from '../types.js'

export interface PullStep {
  /** Ops the frame carried. */
  received: Op[]
  /** Ops that became the row of their user key. */
  changed: Op[]
  /** Rows a snapshot showed collected (removed here). */
  removed: Op[]
  refused: Refusal[]
  applied: number
  /** `(origin, seq)` where a second op signed with one seq was taken. */
  equivocations: Array<{ origin: string, seq: number }>
  /** Past versions found to have lost to a write that had not seen them. */
  conflicts: PastVersion[]
  /**
   * The frame moved the pull on: the hello or done, a snapshot's attestations
   * or rows this pull had not taken yet, or ops this node took. Frames of
   * what it held already, or of nothing, do not (a trickle delivers nothing).
   */
  delivered: boolean
  /** How many of the frame's ops moved the pull on (taken, or rows and attestations new to it): a frame padded with old ones brings little. */
  fresh: number
}

export interface PullResult {
  peerName?: string
  /** The server's clock when it answered (ms). */
  peerNow?: number
  /** What the server says it holds. */
  peerVector?: VersionVector
  /** A snapshot was taken: the server offered one and this node saw it was behind what was collected without it. */
  snapshot: boolean
  applied: number
  refused: number
  /** Refused for a bad or missing signature: the server relayed forgeries. */
  forged: number
  removed: number
  /** Writes a snapshot named to be made again with new stamps; `Replica.rewrites()` hands out those still due, to write. */
  reissue: Change[]
  /** Set when this pull ended early: why (the server is behind this node, or a newer pull took its snapshot over, or `stale`). */
  aborted?: string
  /** The pull ended after `STALE_OPS` ops in a row this node held already: the server's stream is behind it (close it without reading on). */
  stale?: boolean
  /** A newer pull took over the snapshot this one was receiving; this one settled nothing. */
  overtaken?: boolean
  /** Origins this pull asked for again above the floor (an attestation of the server's disagreed with this node's ops). */
  rechecked: number
  /** The hello was the short form, and the server's vector names ops this node lacks: pull from it again (the hello will be whole). */
  again?: boolean
  /**
   * This node declined the snapshot the server offered (a 3.2.0 server, see
   * `Hello.rows`) and ended the pull before the rows: pull from it again at
   * once, for the ops after them (the hello asks for no rows now).
   */
  declined?: boolean
  /**
   * A pull without rows found this node would now take the server's
   * snapshot: pull from it again at once, for the rows. Once a `STUCK_MS` per
   * server at most: later ones wait for the next pull from it (a server that
   * offered by turns floors to take and not to take would otherwise keep the
   * puller pulling from it back to back).
   */
  wanted?: boolean
}
