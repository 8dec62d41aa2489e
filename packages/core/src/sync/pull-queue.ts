/**
 * When to pull from whom. A node that reconnects to several peers at once
 * would receive everything it missed from each of them if it pulled from all
 * together, so pulls run one at a time, each starting from what the last
 * brought. But a peer that trickles (one byte every few seconds) must not hold
 * the others back: a pull that has delivered nothing for `stallMs` (no frame
 * that moved it on: `PullStep.delivered`) no longer counts, and the next one
 * starts beside it.
 *
 * Network-free: the owner starts pulls (`start`), reports their frames
 * (`progress`) and calls `tick()` every second or so.
 */

export interface PullQueueInit {
  /** Begins a pull from `peer`; `finished` must be called once it ends, however it ends. */
  start: (peer: string, finished: () => void) => void
  now: () => number
  /** A pull that delivered nothing for this long stops holding back the next. @default 2_000 */
  stallMs?: number
  /** Most pulls at once, stalled ones included. @default 4 */
  maxActive?: number
}

export class PullQueue {
  private readonly init: PullQueueInit
  private readonly active = new Map<string, { lastProgress: number, again: boolean }>()
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

  /** A frame of `peer`'s pull arrived that moved it on (`PullStep.delivered`). */
  progress (peer: string): void {
    const running = this.active.get(peer)
    if (running != null) running.lastProgress = this.init.now()
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
      this.active.set(peer, { lastProgress: this.init.now(), again: false })
      let ended = false
      this.init.start(peer, () => {
        if (ended) return
        ended = true
        const again = this.active.get(peer)?.again === true
        this.active.delete(peer)
        if (again) this.queue.push(peer)
        this.pump()
      })
    }
  }

  private mayStart (): boolean {
    if (this.active.size >= (this.init.maxActive ?? 4)) return false
    const stalledBefore = this.init.now() - (this.init.stallMs ?? 2_000)
    for (const running of this.active.values()) if (running.lastProgress > stalledBefore) return false
    return true
  }
}
