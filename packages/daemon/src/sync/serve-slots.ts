/**
 * A cap on the serves this node runs at once, across every connection. A
 * serve holds a store page and a frame (about 2 MiB) while its puller takes
 * them, and each connection may open 16 sync streams: without a cap, members
 * that open pulls and do not read could make a node hold that much for every
 * stream of 256 connections. Once `max` serves run, a new one ends the serve
 * whose puller took a frame longest ago (a stalled one, never an honest
 * puller that keeps reading), so a new honest puller is never turned away.
 */
export interface ServeSlot {
  /** The puller took a frame. */
  progressed(): void
  /** The serve ended. */
  release(): void
}

/** Serves at once across all connections, by default. */
export const MAX_SERVES = 64

export class ServeSlots {
  private readonly max: number
  private readonly now: () => number
  private readonly serving = new Set<{ progress: number, end: () => void }>()

  constructor (max = MAX_SERVES, now: () => number = Date.now) {
    this.max = max
    this.now = now
  }

  get size (): number {
    return this.serving.size
  }

  /** A slot for a new serve, which `end` stops: with every slot taken, the stalest serve is ended for it. */
  take (end: () => void): ServeSlot {
    while (this.serving.size >= this.max) {
      let stalest: { progress: number, end: () => void } | undefined
      for (const serve of this.serving) if (stalest === undefined || serve.progress < stalest.progress) stalest = serve
      if (stalest === undefined) break
      this.serving.delete(stalest)
      stalest.end()
    }
    const serve = { progress: this.now(), end }
    this.serving.add(serve)
    return {
      progressed: () => { serve.progress = this.now() },
      release: () => { this.serving.delete(serve) }
    }
  }
}
