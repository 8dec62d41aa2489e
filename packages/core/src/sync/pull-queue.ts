/**
 * When to pull from whom. A node that reconnects to several peers at once
 * would receive everything it missed from each of them if it pulled from all
 * together, so pulls run one at a time, each starting from what the last
 * brought. But a peer that trickles must not hold the others back:
 *
 * - A pull holds back the next only while it brings `holdBytes` of new data
 *   every `stallMs` (frames that moved it on, `PullStep.delivered`, counted
 *   by their share of ops it took, `PullStep.fresh`). A member that sent one
 *   new op of its own every 1.5 s kept every other pull waiting for as long
 *   as it went on (up to the pull's 5-min deadline), each frame a delivery.
 *   Two fast pulls at once would fetch one backlog twice; one beside a slow
 *   pull costs no more than the slow one's trickle.
 * - When every slot (`maxActive`) is taken and a pull waits, the running one
 *   that brought least lately, once it has run `evictMs`, is ended (its
 *   `signal` aborts) and asked again after those waiting: five members that
 *   trickled took all four slots. What it brought is kept; the next pull
 *   from it asks from there.
 *
 * Network-free: the owner starts pulls (`start`), reports their frames
 * (`progress`) and calls `tick()` every second or so.
 */

export interface PullQueueInit {
  /** Begins a pull from `peer`; `finished` must be called once it ends, however it ends; `signal` aborts when the queue ends it early. */
  start: (peer: string, finished: () => void, signal: AbortSignal) => void
  now: () => number
  /** A pull that delivered nothing for this long stops holding back the next. @default 2_000 */
  stallMs?: number
  /** New bytes a pull must bring every `stallMs` to keep holding back the next (by default 8 KiB/s: below any link that serves a catch-up, far above a trickle). @default 16_384 */
  holdBytes?: number
  /** Most pulls at once, stalled ones included. @default 4 */
  maxActive?: number
  /** How long a pull runs before it may be ended for a waiting one while every slot is taken. @default 5_000 */
  evictMs?: number
}

interface Running {
  started: number
  /** Until when it holds back the next (each delivery buys time in proportion to its new bytes, up to `stallMs` ahead). */
  holds: number
  again: boolean
  ending: AbortController
}

export class PullQueue {
  private readonly init: PullQueueInit
  private readonly active = new Map<string, Running>()
  private readonly queue: string[] = []

  constructor (init: PullQueueInit) {
    this.init = init
  }

  /** Asks for a pull from `peer`: one more run if one is going on, none twice in the queue. */
  request (peer: string): void {
    const running = this.active.get(peer)
    if (running != null) running.again = true
    else if (!this.queue.includes(peer)) this.queue.push(peer)
    this.pump()
  }

  /**
   * A frame of `peer`'s pull arrived that moved it on (`PullStep.delivered`),
   * bringing `bytes` of new data (unsaid: as much as holds the next back for `stallMs`).
   */
  progress (peer: string, bytes = Infinity): void {
    const running = this.active.get(peer)
    if (running == null) return
    const now = this.init.now()
    const stallMs = this.init.stallMs ?? 2_000
    const bought = stallMs * bytes / (this.init.holdBytes ?? 16_384)
    running.holds = Math.min(now + stallMs, Math.max(running.holds, now) + bought)
  }

  /** Drops a queued pull (the peer went away); a running one ends by itself. */
  forget (peer: string): void {
    const at = this.queue.indexOf(peer)
    if (at >= 0) this.queue.splice(at, 1)
  }

  /** Starts queued pulls that stalled ones no longer hold back. */
  tick (): void {
    this.pump()
  }

  get running (): number {
    return this.active.size
  }

  get waiting (): number {
    return this.queue.length
  }

  private pump (): void {
    while (this.queue.length > 0 && this.mayStart()) {
      const peer = this.queue.shift() as string
      const now = this.init.now()
      const running: Running = { started: now, holds: now + (this.init.stallMs ?? 2_000), again: false, ending: new AbortController() }
      this.active.set(peer, running)
      let ended = false
      this.init.start(peer, () => {
        if (ended) return
        ended = true
        this.active.delete(peer)
        if (running.again || running.ending.signal.aborted) this.queue.push(peer)
        this.pump()
      }, running.ending.signal)
    }
    this.evict()
  }

  private mayStart (): boolean {
    return this.active.size < (this.init.maxActive ?? 4) && !this.holding()
  }

  private holding (): boolean {
    const now = this.init.now()
    for (const running of this.active.values()) if (running.holds > now) return true
    return false
  }

  /**
   * Every slot taken, none holding back the next, and pulls waiting: ends,
   * for each, the running one that brought least lately (once it has run
   * `evictMs`). A pull that holds back the next is bringing a catch-up: none
   * is ended for a waiting one that could not start beside it anyway.
   */
  private evict (): void {
    if (this.active.size < (this.init.maxActive ?? 4) || this.holding()) return
    const ending = [...this.active.values()].filter(running => running.ending.signal.aborted).length
    const since = this.init.now() - (this.init.evictMs ?? 5_000)
    const due = [...this.active.values()].filter(running => !running.ending.signal.aborted && running.started <= since).sort((a, b) => a.holds - b.holds)
    for (const running of due.slice(0, Math.max(0, this.queue.length - ending))) running.ending.abort()
  }
}
