/**
 * One origin's ops that wait (see `pending.ts`), by seq, with what is looked
 * for among them kept in heaps, so no look passes over them all: the furthest
 * seq (evicted first), the lowest (most receives ask for seqs at or below
 * what the node holds, and there are none: a look over every waiting seq cost
 * each receive ~5 ms of a node with 300,000 of one origin's ops waiting), and
 * the earliest time the clock lets one go. Heaps keep seqs and times that no
 * longer wait until they come to the top, or until one holds twice as many as
 * wait, when it is rebuilt.
 */
import { Heap } from './heap.js'
import type { Op } from '../types.js'
import type { Witness } from './inbound.js'

/** `witnesses`: those of its key that came with it by sync, which it is measured against when it applies (seed 45698); `wakeAt`: when the clock lets it go. */
export interface Waiting { op: Op, digest: Uint8Array, bytes: number, witnesses?: readonly Witness[], wakeAt?: number }

export class OriginWaits {
  readonly origin: string
  /** When it began to wait: origins as large tie in that order. */
  readonly rank: number
  bytes = 0
  readonly seqs = new Map<number, Waiting[]>()
  private readonly highest = new Heap<number>((a, b) => a > b)
  private readonly lowest = new Heap<number>((a, b) => a < b)
  /** Its ops that wait for the clock, and the times they may go. */
  private readonly timed = new Set<Waiting>()
  private readonly times = new Heap<number>((a, b) => a < b)
  /** Its runs of consecutive waiting seqs, lowest first, from the last `ranges()` since the seqs last changed. */
  private runs: Array<[number, number]> | undefined

  constructor (origin: string, rank: number) {
    this.origin = origin
    this.rank = rank
  }

  /** `versions` of `seq` wait (a seq new here, or more versions of one). */
  set (seq: number, versions: Waiting[]): void {
    if (!this.seqs.has(seq)) {
      this.runs = undefined
      for (const heap of [this.highest, this.lowest]) {
        if (heap.size >= 2 * this.seqs.size + 64) heap.reset(this.seqs.keys())
        heap.push(seq)
      }
    }
    this.seqs.set(seq, versions)
    for (const w of versions) {
      if (w.wakeAt === undefined || this.timed.has(w)) continue
      this.timed.add(w)
      if (this.times.size >= 2 * this.timed.size + 64) this.times.reset([...this.timed].map(t => t.wakeAt as number))
      else this.times.push(w.wakeAt)
    }
  }

  /** No version of `seq` waits any more. */
  drop (seq: number): void {
    if (this.seqs.delete(seq)) this.runs = undefined
  }

  /**
   * The first `limit` runs of consecutive waiting seqs, lowest first (fresh
   * pairs). Sorted once, then kept until a seq comes or goes: each pull's
   * hello asks, and a member may keep 300,000 of one origin's ops waiting.
   */
  ranges (limit: number): Array<[number, number]> {
    if (this.runs === undefined) {
      const runs: Array<[number, number]> = []
      for (const seq of [...this.seqs.keys()].sort((a, b) => a - b)) {
        const last = runs.at(-1)
        if (last !== undefined && last[1] === seq - 1) last[1] = seq
        else runs.push([seq, seq])
      }
      this.runs = runs
    }
    return this.runs.slice(0, limit).map(([from, to]) => [from, to])
  }

  /** `gone` waits no more. */
  forget (gone: Waiting): void {
    this.timed.delete(gone)
  }

  /** The furthest seq that waits. */
  furthest (): number | undefined {
    return this.top(this.highest)
  }

  /** The seqs that wait in `(after, upTo]`, in no order. */
  seqsIn (after: number, upTo: number): number[] {
    const low = this.top(this.lowest)
    if (low === undefined || low > upTo) return []
    const found: number[] = []
    // whichever is fewer: the seqs in the range, or those that wait
    if (upTo - Math.max(after, low - 1) < this.seqs.size) {
      for (let seq = Math.max(after + 1, low); seq <= upTo; seq++) if (this.seqs.has(seq)) found.push(seq)
    } else {
      for (const seq of this.seqs.keys()) if (seq > after && seq <= upTo) found.push(seq)
    }
    return found
  }

  /** The earliest time after `now` that the clock lets one of its ops go (times up to `now` are dropped). */
  nextWake (now: number): number | undefined {
    while (this.times.size > 0 && (this.times.peek() as number) <= now) this.times.pop()
    return this.times.peek()
  }

  private top (heap: Heap<number>): number | undefined {
    while (heap.size > 0 && !this.seqs.has(heap.peek() as number)) heap.pop()
    return heap.peek()
  }
}
