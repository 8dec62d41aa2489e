/**
 * When a pull has stopped bringing anything new, and must end so that the
 * next pull asks from what this node holds then (see `PullSession`). Pulls
 * that raced a burst's gossip streamed a whole backlog of duplicates for
 * tens of seconds on every node of a 10-node group. A snapshot frame that
 * brings nothing new (a row or attestation sent again) counts as nothing
 * too: a server could otherwise send one row again and again to hold back
 * the pulls behind it (hole 9).
 */

/** Ops held already (or forged, or with no room to wait), in a row, that end a pull as stale (a few frames' worth: a short overlap with gossip is normal). */
export const STALE_OPS = 512
/**
 * Or this long of frames that brought nothing (ops held already, witnesses
 * alone, or none at all) and nothing new: a server that trickles
 * (a frame every few seconds) took minutes to reach `STALE_OPS`, and no
 * other pull from it could start meanwhile, though it alone held ops written
 * since the hello (seed 8161). Snapshot frames that bring nothing new (rows
 * or attestations the pull took already) count the same.
 */
export const STALE_MS = 30_000

export class Staleness {
  /** Ops that brought nothing (held already, forged, or not kept) received in a row, since `since` (this node's clock, ms). */
  private held = 0
  private since: number | undefined

  /** `staleMs`: how long of frames that bring nothing end the pull. */
  constructor (private readonly staleMs = STALE_MS) {}

  /** A frame of `count` ops, `stale` when every one was held already (or there were none). True: the pull ends. */
  ops (stale: boolean, count: number, now: number): boolean {
    this.held = stale ? this.held + count : 0
    return this.brought(!stale, now) || this.held >= STALE_OPS
  }

  /** A snapshot frame: whether it brought a row or an attestation this pull had not taken yet. True: the pull ends. */
  snapshot (delivered: boolean, now: number): boolean {
    return this.brought(delivered, now)
  }

  private brought (something: boolean, now: number): boolean {
    if (something) this.since = undefined
    else if (this.since === undefined) this.since = now
    return this.since !== undefined && now - this.since >= this.staleMs
  }
}
