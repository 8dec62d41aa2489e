/**
 * How a serve tells a slow link from a puller that holds it: the peer must
 * take at least `TAKE_FLOOR_BYTES` of what is offered in any `STALL_MS`
 * (about 3 KiB/s), or all of it if less is left. A rule on whole frames (each
 * taken within 20 s) asked ~54 KiB/s of every puller, as a frame holds up to
 * 1 MiB: a node on a slower link (cellular, a busy relay) never took one, and
 * its pulls failed again and again without bringing anything, so it never
 * caught up. What a puller that reads slowly can hold (a serve slot, a page
 * and a frame, until the pull's deadline) is bounded by the serve cap, which
 * ends the serve whose puller took a frame longest ago first.
 */

/** A sync stream whose peer takes no frame, or sends no byte while awaited, for this long fails (libp2p 3 keeps `inactivityTimeout` but acts on it nowhere). */
export const STALL_MS = 20_000

/** The least a peer must take of what it is offered in any `STALL_MS`. */
export const TAKE_FLOOR_BYTES = 64 * 1024

/** `TakeFloor.check` is called this often while a frame waits to be taken. */
export const CHECK_MS = 1_000

/**
 * The bytes taken of one offer (`total` bytes: a frame, and what was still
 * queued before it), sampled over time. `check(taken)` says whether the peer
 * has fallen below the floor.
 */
export class TakeFloor {
  private readonly samples: Array<{ at: number, taken: number }>
  private readonly total: number
  private readonly now: () => number

  constructor (total: number, now: () => number = () => performance.now()) {
    this.total = total
    this.now = now
    this.samples = [{ at: now(), taken: 0 }]
  }

  /**
   * Records that `taken` bytes of the offer are taken by now. Returns the
   * bytes taken in the last `STALL_MS` when that is below the floor (the
   * stream should end), else undefined. Nothing is judged in an offer's
   * first `STALL_MS`.
   */
  check (taken: number): number | undefined {
    const at = this.now()
    this.samples.push({ at, taken })
    // the base is the newest sample at least STALL_MS old
    while (this.samples.length > 1 && at - (this.samples[1] as { at: number }).at >= STALL_MS) this.samples.shift()
    const base = this.samples[0] as { at: number, taken: number }
    if (at - base.at < STALL_MS) return undefined
    const recent = taken - base.taken
    return recent < Math.min(TAKE_FLOOR_BYTES, this.total - base.taken) ? recent : undefined
  }
}
