/**
 * Group commit: writes that arrive while the event loop is busy share one
 * transaction, and each is acknowledged only once its commit is on disk. When
 * several writers share a batch, the disk sync (`durable`) may run off the
 * event loop, so the next batch commits while this one syncs; batches are
 * still acknowledged in commit order.
 */
import type { Change, Op } from '@murmur/core'

interface Pending {
  changes: Change[]
  resolve: (ops: Op[]) => void
  reject: (err: Error) => void
}

export interface WriteQueueHooks {
  /**
   * Makes every commit so far durable: synchronously (returns nothing) or as
   * a promise. `writers` is how many submissions the last commit held.
   * Default: commits are durable when they return.
   */
  durable?: (writers: number) => Promise<void> | undefined
  /** Called with each batch's ops once they are durable, in commit order, as their writers' promises resolve. Must not throw. */
  after?: (ops: Op[]) => void
  /** Most changes one transaction takes. @default 10_000 */
  maxBatch?: number
}

export class WriteQueue {
  private readonly commit: (changes: Change[]) => Op[]
  private readonly hooks: WriteQueueHooks
  /** Settles when the last batch committed is durable and answered. */
  private tail: Promise<unknown> = Promise.resolve()
  /** Batches committed but not yet answered. */
  private unanswered = 0
  private pending: Pending[] = []
  private scheduled = false
  /** Most changes one transaction takes; the rest wait for the next flush. A submission is never split. */
  private readonly maxBatch: number

  constructor (commit: (changes: Change[]) => Op[], hooks: WriteQueueHooks = {}) {
    this.commit = commit
    this.hooks = hooks
    this.maxBatch = hooks.maxBatch ?? 10_000
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
    let durable: Promise<void> | undefined
    try {
      ops = this.commit(batch.length === 1 ? (batch[0] as Pending).changes : batch.flatMap(p => p.changes))
      durable = this.hooks.durable?.(batch.length)
    } catch (err) {
      for (const p of batch) p.reject(err as Error)
      return
    }
    const answer = (): void => {
      let start = 0
      for (const p of batch) {
        p.resolve(ops.slice(start, start + p.changes.length))
        start += p.changes.length
      }
      this.hooks.after?.(ops)
    }
    if (durable === undefined && this.unanswered === 0) {
      answer()
      return
    }
    // answered after the batches before it, and after its own sync
    this.unanswered++
    const previous = this.tail
    this.tail = previous.then(async () => { await durable }, async () => { await durable }).then(answer, (err: Error) => {
      for (const p of batch) p.reject(err)
    }).finally(() => { this.unanswered-- }).catch(() => {}) // every writer was answered above
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
