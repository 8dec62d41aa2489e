/**
 * Group commit: writes that arrive while the event loop is busy share one
 * transaction (one fsync), and each is acknowledged only after it commits.
 */
import type { Change, Op } from '@murmur/core'

interface Pending {
  changes: Change[]
  resolve: (ops: Op[]) => void
  reject: (err: Error) => void
}

export class WriteQueue {
  private readonly commit: (changes: Change[]) => Op[]
  private pending: Pending[] = []
  private scheduled = false
  /** Most changes one transaction takes; the rest wait for the next flush. A submission is never split. */
  private readonly maxBatch: number

  constructor (commit: (changes: Change[]) => Op[], maxBatch = 10_000) {
    this.commit = commit
    this.maxBatch = maxBatch
  }

  /** Commits `changes` together, in order; resolves to their ops, one promise however many changes. */
  async submit (changes: Change[]): Promise<Op[]> {
    return await new Promise((resolve, reject) => {
      this.pending.push({ changes, resolve, reject })
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
    const batch = this.take()
    if (this.pending.length > 0) this.schedule()
    if (batch.length === 0) return
    let ops: Op[]
    try {
      ops = this.commit(batch.length === 1 ? (batch[0] as Pending).changes : batch.flatMap(p => p.changes))
    } catch (err) {
      for (const p of batch) p.reject(err as Error)
      return
    }
    let start = 0
    for (const p of batch) {
      p.resolve(ops.slice(start, start + p.changes.length))
      start += p.changes.length
    }
  }

  /** Whole submissions, up to `maxBatch` changes (at least one submission). */
  private take (): Pending[] {
    let count = 0
    let n = 0
    while (n < this.pending.length && (n === 0 || count + (this.pending[n] as Pending).changes.length <= this.maxBatch)) {
      count += (this.pending[n] as Pending).changes.length
      n++
    }
    return this.pending.splice(0, n)
  }
}
