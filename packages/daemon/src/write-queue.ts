/**
 * Group commit: puts that arrive while the event loop is busy share one
 * transaction (one fsync), and each is acknowledged only after it commits.
 */
import type { Change, Op } from '@murmur/core'

interface Pending {
  change: Change
  resolve: (op: Op) => void
  reject: (err: Error) => void
}

export class WriteQueue {
  private readonly commit: (changes: Change[]) => Op[]
  private pending: Pending[] = []
  private scheduled = false
  /** Most changes one transaction takes; the rest wait for the next flush. */
  private readonly maxBatch: number

  constructor (commit: (changes: Change[]) => Op[], maxBatch = 10_000) {
    this.commit = commit
    this.maxBatch = maxBatch
  }

  async submit (change: Change): Promise<Op> {
    return await new Promise((resolve, reject) => {
      this.pending.push({ change, resolve, reject })
      this.schedule()
    })
  }

  private schedule (): void {
    if (this.scheduled) return
    this.scheduled = true
    // setImmediate runs after pending I/O callbacks, so every request already
    // read from the sockets joins this batch.
    setImmediate(() => { this.flush() })
  }

  private flush (): void {
    this.scheduled = false
    const batch = this.pending.splice(0, this.maxBatch)
    if (this.pending.length > 0) this.schedule()
    if (batch.length === 0) return
    let ops: Op[]
    try {
      ops = this.commit(batch.map(p => p.change))
    } catch (err) {
      for (const p of batch) p.reject(err as Error)
      return
    }
    batch.forEach((p, i) => { p.resolve(ops[i] as Op) })
  }
}
