/**
 * Group commit: writes that arrive while the event loop is busy share one
 * transaction, and each is acknowledged only once its commit is on disk. When
 * several writers share a batch, the disk sync (`durable`) may run off the
 * event loop, so the next batch commits while this one syncs; batches are
 * still acknowledged in commit order.
 *
 * A submission may carry a precondition (`check`), run at the commit, just
 * before the transaction, against the replica as it then is and the keys the
 * submissions before it in the batch write: a refused submission is rejected
 * alone and the rest commit.
 */
import type { Change, Op } from '@murmur/core'

/** Refuses a submission (returns why) given the keys written before it in its commit. */
export type Precondition = (touched: ReadonlySet<string>) => Error | undefined

interface Pending {
  changes: Change[]
  check?: Precondition
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
  /** Called with a batch's ops, committed, whose sync failed (their writers are rejected; `after` never hears of them). Must not throw. */
  lost?: (ops: Op[]) => void
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
  async submit (changes: Change[], check?: Precondition): Promise<Op[]> {
    return await new Promise((resolve, reject) => {
      this.pending.push({ changes, resolve, reject, ...(check !== undefined ? { check } : {}) })
      this.schedule()
    })
  }

  /** Settles once every submission made so far is committed and answered (a stop lets the writes it found finish). */
  async drained (): Promise<void> {
    while (this.scheduled) await new Promise(resolve => setImmediate(resolve))
    await this.tail
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
    const batch = admitted(this.take())
    if (this.pending.length > 0) this.schedule()
    if (batch.length === 0) return
    let ops: Op[] | undefined
    let durable: Promise<void> | undefined
    try {
      ops = this.commit(batch.length === 1 ? (batch[0] as Pending).changes : batch.flatMap(p => p.changes))
      durable = this.hooks.durable?.(batch.length)
    } catch (err) {
      // committed, but the sync failed at once: the ops will never be told, as when it fails later
      if (ops !== undefined) this.hooks.lost?.(ops)
      for (const p of batch) p.reject(err as Error)
      return
    }
    const committed = ops
    const answer = (): void => {
      let start = 0
      for (const p of batch) {
        p.resolve(committed.slice(start, start + p.changes.length))
        start += p.changes.length
      }
      this.hooks.after?.(committed)
    }
    if (durable === undefined && this.unanswered === 0) {
      answer()
      return
    }
    // answered after the batches before it, and after its own sync
    this.unanswered++
    const previous = this.tail
    this.tail = previous.then(async () => { await durable }, async () => { await durable }).then(answer, (err: Error) => {
      this.hooks.lost?.(committed)
      for (const p of batch) p.reject(err)
    }).finally(() => { this.unanswered-- }).catch(() => {}) // every writer was answered above
  }

  /** Whole submissions, up to `maxBatch` changes (at least one submission), before their preconditions. */
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

/** The submissions of `batch` whose preconditions hold, in order; the others are rejected. */
function admitted (batch: Pending[]): Pending[] {
  if (!batch.some(p => p.check !== undefined)) return batch
  const touched = new Set<string>()
  return batch.filter(p => {
    let refusal: Error | undefined
    try {
      refusal = p.check?.(touched)
    } catch (err) {
      refusal = err as Error
    }
    if (refusal !== undefined) {
      p.reject(refusal)
      return false
    }
    for (const change of p.changes) touched.add(change.key)
    return true
  })
}
