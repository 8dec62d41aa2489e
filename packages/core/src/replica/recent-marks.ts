/**
 * Marks (seq, stamp, digest accumulator) a replica's held prefix of each
 * origin passed through, kept in memory so that checking an attestation
 * reads little: the last `perOrigin` of them, and every `SPARSE`-th one
 * further back (up to `sparsePerOrigin`), so the accumulator at any held seq
 * is at most `SPARSE` digests away from a remembered one.
 *
 * Without the sparse ones, an attestation whose mark lies further back than
 * the last few hundred ops (a member behind a writer's burst, a node catching
 * up) cost a read of every digest from there to the held seq, every time a
 * newer attestation of that member came in.
 */
import type { Mark } from '../types.js'

/** Every how many seqs a mark is kept for good (until the origin is forgotten or its floor passes it). */
export const SPARSE = 256

export class RecentMarks {
  private readonly marks = new Map<string, Map<number, Mark>>()
  private readonly sparse = new Map<string, Map<number, Mark>>()

  constructor (private readonly perOrigin = 512, private readonly sparsePerOrigin = 8192) {}

  /** Marks the held prefix of `origin` passed through, in seq order. */
  add (origin: string, passed: Mark[]): void {
    let known = this.marks.get(origin)
    if (known === undefined) this.marks.set(origin, (known = new Map()))
    let sparse = this.sparse.get(origin)
    for (const mark of passed) {
      known.set(mark.seq, mark)
      if (mark.seq % SPARSE !== 0) continue
      if (sparse === undefined) this.sparse.set(origin, (sparse = new Map()))
      sparse.set(mark.seq, mark)
    }
    // Maps iterate in insertion order: the oldest go first
    trim(known, this.perOrigin)
    if (sparse !== undefined) trim(sparse, this.sparsePerOrigin)
  }

  get (origin: string, seq: number): Mark | undefined {
    return this.marks.get(origin)?.get(seq) ?? (seq % SPARSE === 0 ? this.sparse.get(origin)?.get(seq) : undefined)
  }

  /** The remembered mark nearest above `seq` among the sparse ones, if any. */
  above (origin: string, seq: number): Mark | undefined {
    return this.sparse.get(origin)?.get((Math.floor(seq / SPARSE) + 1) * SPARSE)
  }

  /** Another version of a seq was taken: the origin's accumulators from there on changed. */
  forget (origin: string): void {
    this.marks.delete(origin)
    this.sparse.delete(origin)
  }
}

function trim (marks: Map<number, Mark>, most: number): void {
  for (const seq of marks.keys()) {
    if (marks.size <= most) break
    marks.delete(seq)
  }
}
