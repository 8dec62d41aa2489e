/**
 * This node's own ops on their way to gossip: Nagle's rule for publishes.
 * The first ops after a quiet spell go out at once (on the next turn of the
 * event loop, after the acknowledgement); ops released within `windowMs` of
 * the last publish wait until that window has passed and go out together,
 * in one message, unless `ENOUGH_OPS` have gathered. A peer's cost of taking
 * an op is mostly per message (decrypting, framing, validating, one
 * transaction: ~25 times an op's own on a replica), not per op, so a writer
 * of single puts a few times faster than the window sends its peers a few
 * ops a message, for at most `windowMs` more latency; slower than that, or
 * writing in group commits that fill a message anyway, nothing waits.
 *
 * The window widens when sending is dear. A writer with many peers, or on
 * a machine whose cores are busy, spends milliseconds in each publish (a
 * send per recipient; on a shared host the receivers it wakes take the
 * core), and each message costs every member the same again. So once a
 * message per release would take more than an `ALONE_SHARE`th of the time
 * between releases (moving averages: a publish from the flush until
 * gossipsub has handed the message to every recipient's connection;
 * releases as `push` sees them), the window is `PUBLISH_SHARE` times a
 * publish's cost, up to `WIDEST` times `windowMs`, and sending takes about
 * a `PUBLISH_SHARE`th of the writer's time at most. It narrows back only
 * when a message per release would take no more than that `PUBLISH_SHARE`th:
 * fuller messages make each publish cheaper (fewer wake the receivers), and
 * without the gap between the two thresholds the window would flap. Writes
 * slow enough, or publishes cheap enough, leave the window as set: gathering
 * would add latency and save little (3 nodes at 100 writes/s on 2 cores: a
 * publish took ~1 ms, a tenth of the time between writes, and widening from
 * that share on cost put → event p99 6 ms).
 */
import { performance } from 'node:perf_hooks'
import type { Op } from '@murmur/core'
import type { Logger } from 'pino'

/** How long after a publish the next one waits for more ops to carry (see `Outbound`). */
export const PUBLISH_WINDOW_MS = 5
/** Ops that make a message worth sending at once, window or not. */
export const ENOUGH_OPS = 8
/** The window widens once a message per release would take more than this share (its inverse) of the time between releases (see `Outbound`). */
export const ALONE_SHARE = 4
/** The widened window: this many times a publish's cost, so publishing takes about this share (its inverse) of the time at most; below it again, the window narrows. */
export const PUBLISH_SHARE = 10
/** The most the window widens: this many times the window set. */
export const WIDEST = 4
/** The weight of the latest sample in the moving averages of a publish's cost and the time between releases. */
const LATEST = 0.2
/** The longest time between releases the average takes in, in ms: a quiet spell is not a rate. */
const LONGEST_GAP_MS = 1_000

export class Outbound {
  /** Gossip messages published, and the ops they carried (the metrics'). */
  readonly sent = { messages: 0, ops: 0 }
  private readonly publish: (ops: Op[]) => Promise<number[] | undefined>
  private readonly prepare: (ops: Op[]) => Promise<boolean>
  /** The latest publish, settled or not: the next one starts after it. */
  private chain: Promise<void> = Promise.resolve()
  private readonly log: Logger
  private readonly windowMs: number
  private waiting: Op[] = []
  private timer?: NodeJS.Timeout | NodeJS.Immediate
  /** `timer` waits for the window (a timeout), not for the next turn (an immediate). */
  private windowed = false
  private last = -Infinity
  /** What a publish has taken lately, in ms (a moving average of those that reached a running node). */
  private cost = 0
  /** The time between releases (`push`) lately, in ms (a moving average), and the last one. */
  private gap = LONGEST_GAP_MS
  private released = -Infinity
  /** The window is widened (see `Outbound`: it widens and narrows at two thresholds). */
  private widened = false

  /**
   * `publish` resolves to the recipients of each message it sent (none: not
   * running); a failure is logged, peers will sync. `prepare` readies a
   * message's ops as it is flushed (signs them: see core's `Replica.prove`)
   * and resolves once they may go, false if they may not; publishes keep the
   * order of their flushes, and a publish's cost is counted from its start.
   */
  constructor (publish: (ops: Op[]) => Promise<number[] | undefined>, log: Logger, windowMs = PUBLISH_WINDOW_MS, prepare?: (ops: Op[]) => Promise<boolean>) {
    if (!(Number.isFinite(windowMs) && windowMs >= 0)) throw new RangeError(`publishWindowMs must be a number of ms, 0 or more (0: publish at once), not ${String(windowMs)}`)
    this.publish = publish
    this.prepare = prepare ?? (async () => true)
    this.log = log
    this.windowMs = windowMs
  }

  /** How long ops released after a publish wait for the next, in ms: the window set, widened when publishing is dear. */
  get window (): number {
    return this.widened ? Math.min(Math.max(this.windowMs, PUBLISH_SHARE * this.cost), WIDEST * this.windowMs) : this.windowMs
  }

  /** Ops released now would go out at once: nothing waits, and the window since the last publish has passed. */
  get idle (): boolean {
    return this.timer === undefined && this.waiting.length === 0 && performance.now() - this.last >= this.window
  }

  /** Ops on disk, in seq order: published with the next message. */
  push (ops: Op[]): void {
    const now = performance.now()
    this.gap += (Math.min(now - this.released, LONGEST_GAP_MS) - this.gap) * LATEST
    this.released = now
    this.retune()
    if (this.waiting.length === 0) this.waiting = ops.slice()
    else for (const op of ops) this.waiting.push(op)
    const enough = this.waiting.length >= ENOUGH_OPS
    if (this.timer !== undefined && !(enough && this.windowed)) return
    this.cancel()
    const wait = enough ? 0 : this.last + this.window - now
    this.windowed = wait > 0
    this.timer = wait <= 0 ? setImmediate(() => { this.flush() }) : setTimeout(() => { this.flush() }, Math.ceil(wait))
  }

  /** Widens the window once a message per release would take over an `ALONE_SHARE`th of the time between them; narrows it at a `PUBLISH_SHARE`th. */
  private retune (): void {
    if (!this.widened && ALONE_SHARE * this.cost > this.gap) this.widened = true
    else if (this.widened && PUBLISH_SHARE * this.cost <= this.gap) this.widened = false
  }

  /** Drops what waits (the node stops; peers that miss it will sync). */
  stop (): void {
    this.cancel()
    this.waiting = []
  }

  private cancel (): void {
    if (this.windowed) clearTimeout(this.timer as NodeJS.Timeout)
    else clearImmediate(this.timer as NodeJS.Immediate)
    this.timer = undefined
  }

  private flush (): void {
    // libuv starts a timer from the loop's cached clock, which a busy turn leaves behind: the window's may fire early
    const left = this.windowed && this.waiting.length < ENOUGH_OPS ? this.last + this.window - performance.now() : 0
    if (left > 0) {
      this.timer = setTimeout(() => { this.flush() }, Math.ceil(left))
      return
    }
    this.timer = undefined
    const ops = this.waiting
    this.waiting = []
    this.last = performance.now()
    if (ops.length === 0) return
    let ready: Promise<boolean>
    try {
      ready = this.prepare(ops)
    } catch (err) {
      ready = Promise.reject(err)
    }
    this.chain = this.chain.then(async () => {
      if (!await ready) return
      const started = performance.now()
      const recipients = await this.publish(ops)
      if (recipients === undefined) return
      this.cost += (performance.now() - started - this.cost) * LATEST
      this.retune()
      this.sent.messages += recipients.length
      this.sent.ops += ops.length
      this.log.debug({ ops: ops.length, recipients }, 'published ops')
    }).catch(err => { this.log.warn({ err: (err as Error).message, ops: ops.length }, 'publish failed; peers will sync') })
  }
}
