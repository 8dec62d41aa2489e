/**
 * Change events leave in cursor order. This node's own writes are committed
 * (and numbered) before they are durable, and told to watchers only once they
 * are; a peer's op is told at its commit. So a peer's change numbered after
 * an own write that still waits for its fsync waits too: a watcher that
 * resumes from the last cursor it saw then never skips the own write.
 */
export class ChangeOrder {
  /** Cursors of own changes committed and not yet told, in commit (and so cursor) order. */
  private readonly untold: number[] = []
  private head = 0
  /** Peers' changes waiting for an own change numbered before them, in cursor order. */
  private readonly held: Array<{ cursor: number, emit: () => void }> = []

  /** Own changes were committed with these cursors (in order). */
  committed (cursors: number[]): void {
    this.untold.push(...cursors)
  }

  /** An own change, now told (or never to be told: `emit` undefined), and whatever waited for it. */
  own (cursor: number | undefined, emit?: () => void): void {
    if (cursor !== undefined && this.untold[this.head] === cursor) this.head++
    else if (cursor !== undefined) {
      const at = this.untold.indexOf(cursor, this.head)
      if (at !== -1) this.untold.splice(at, 1)
    }
    if (this.head > 1024 && this.head * 2 > this.untold.length) {
      // drop what was told, now and then, rather than shift the array on every change
      this.untold.splice(0, this.head)
      this.head = 0
    }
    emit?.()
    this.release()
  }

  /** A peer's change: told now, or once every own change numbered before it is. */
  peer (cursor: number | undefined, emit: () => void): void {
    const first = this.untold[this.head]
    if (cursor === undefined || first === undefined || first > cursor) {
      emit()
      return
    }
    let at = this.held.length
    while (at > 0 && (this.held[at - 1] as { cursor: number }).cursor > cursor) at--
    this.held.splice(at, 0, { cursor, emit })
  }

  /** How many peers' changes wait. */
  get waiting (): number {
    return this.held.length
  }

  private release (): void {
    const first = this.untold[this.head] ?? Infinity
    while (this.held.length > 0 && (this.held[0] as { cursor: number }).cursor < first) this.held.shift()?.emit()
  }
}
