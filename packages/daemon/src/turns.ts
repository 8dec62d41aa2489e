/**
 * A node's start() and stop(), run one at a time in call order. Without it a
 * stop() that found a start() under way returned at once and the start went
 * on to leave the node running; a second stop() resolved before the first
 * had closed anything; and a start() during a stop() failed on the data
 * dir's lock, still held by the stopping node.
 */
export class Turns {
  private last: Promise<void> = Promise.resolve()

  /** Runs `step` once every step queued before it has settled (a failed one included). */
  async run (step: () => Promise<void>): Promise<void> {
    const turn = this.last.then(step)
    this.last = turn.catch(() => {})
    await turn
  }
}
