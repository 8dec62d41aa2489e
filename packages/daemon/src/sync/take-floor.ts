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

/** A sync stream whose peer sends no byte while awaited for this long fails, and the floor below is judged over it (libp2p 3 keeps `inactivityTimeout` but acts on it nowhere); `--sync-stall` sets it. */
export const STALL_MS = 20_000

/** The least a peer must take of what it is offered in any `STALL_MS` (in a shorter or longer stall wait, as much a second). */
export const TAKE_FLOOR_BYTES = 64 * 1024

/** `TakeFloor.check` is called this often while a frame waits to be taken (or every tenth of a shorter stall wait). */
export const CHECK_MS = 1_000

/**
 * The bytes taken of one offer (`total` bytes: a frame, and what was still
 * queued before it), sampled over time. `check(taken)` says whether the peer
 * has fallen below the floor.
 */
export class TakeFloor {
  /** What the peer must take in any `windowMs`. */
  readonly floorBytes: number
  private readonly samples: Array<{ at: number, taken: number }>
  private readonly total: number
  private readonly windowMs: number
  private readonly now: () => number

  /** `windowMs`: the stall wait (`--sync-stall`). */
  constructor (total: number, windowMs = STALL_MS, now: () => number = () => performance.now()) {
    this.total = total
    this.windowMs = windowMs
    this.floorBytes = Math.ceil(TAKE_FLOOR_BYTES * windowMs / STALL_MS)
    this.now = now
    this.samples = [{ at: now(), taken: 0 }]
  }

  /**
   * Records that `taken` bytes of the offer are taken by now. Returns the
   * bytes taken in the last `windowMs` when that is below the floor (the
   * stream should end), else undefined. Nothing is judged in an offer's
   * first `windowMs`.
   */
  check (taken: number): number | undefined {
    const at = this.now()
    this.samples.push({ at, taken })
    // the base is the newest sample at least windowMs old
    while (this.samples.length > 1 && at - (this.samples[1] as { at: number }).at >= this.windowMs) this.samples.shift()
    const base = this.samples[0] as { at: number, taken: number }
    if (at - base.at < this.windowMs) return undefined
    const recent = taken - base.taken
    return recent < Math.min(this.floorBytes, this.total - base.taken) ? recent : undefined
  }
}
