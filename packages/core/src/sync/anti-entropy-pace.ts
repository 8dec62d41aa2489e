/**
 * When the next anti-entropy pull is due. In a quiet group almost every pull
 * brings nothing, and each costs a stream, a handshake and a version vector
 * each way: so a pull that brought nothing doubles the wait before the next,
 * up to `maxIntervalMs`, and anything that shows the group is not quiet (an
 * op written or received, a gap, a new connection, a peer saying it holds
 * ops this node lacks) brings the wait back to `intervalMs` at once.
 *
 * A peer's word may only make a pull come sooner, never later: what slows
 * pulls down is this node's own finding that one brought nothing, and
 * `maxIntervalMs` bounds the wait whatever peers say or do not say.
 *
 * Network-free and clock-free: the owner passes the time and a random number
 * in [0, 1) for the jitter, and runs its timer for the time returned.
 */
import type { VersionVector } from '../types.js'

export interface AntiEntropyPaceInit {
  /** The mean wait while the group is busy (each wait is jittered to 0.5–1.5× it). */
  intervalMs: number
  /** The longest wait between two pulls, whatever happens. @default maxIntervalFor(intervalMs) */
  maxIntervalMs?: number
}

/** The default bound: 12 intervals, at most 60 s, never under the interval itself. */
export function maxIntervalFor (intervalMs: number): number {
  return Math.max(intervalMs, Math.min(60_000, 12 * intervalMs))
}

/** Whether `theirs` (a peer's word) names an op of some origin past what `ours` holds. */
export function lacks (ours: VersionVector, theirs: VersionVector): boolean {
  for (const [origin, seq] of Object.entries(theirs)) {
    if (typeof seq === 'number' && seq > (Object.hasOwn(ours, origin) ? ours[origin] ?? 0 : 0)) return true
  }
  return false
}

export class AntiEntropyPace {
  readonly intervalMs: number
  readonly maxIntervalMs: number
  private current: number
  private dueAt = 0

  constructor (init: AntiEntropyPaceInit) {
    this.intervalMs = init.intervalMs
    this.maxIntervalMs = Math.max(init.intervalMs, init.maxIntervalMs ?? maxIntervalFor(init.intervalMs))
    this.current = this.intervalMs
  }

  /** The mean wait now: `intervalMs` while busy, longer after pulls that brought nothing. */
  get currentMs (): number {
    return this.current
  }

  /** When the next pull is due (on the owner's clock). */
  get due (): number {
    return this.dueAt
  }

  /** Plans the next pull (at start, and each time one is due): returns the wait until it. */
  next (now: number, random: number): number {
    const wait = Math.min(this.maxIntervalMs, Math.round(this.current * (0.5 + random)))
    this.dueAt = now + wait
    return wait
  }

  /** An anti-entropy pull brought nothing new: the next waits twice as long (up to the bound). */
  quiet (): void {
    this.current = Math.min(this.maxIntervalMs, this.current * 2)
  }

  /**
   * Something happened that a pull may be needed for: back to `intervalMs`.
   * Returns the wait until the pull it replans if that comes sooner than the
   * one planned (the owner moves its timer), else undefined.
   */
  stir (now: number, random: number): number | undefined {
    if (this.current === this.intervalMs) return undefined
    this.current = this.intervalMs
    const planned = this.dueAt
    const wait = this.next(now, random)
    if (now + wait < planned) return wait
    this.dueAt = planned
    return undefined
  }
}
