/**
 * How both stores end a page of one origin's ops (`Store.opsOf`): after the
 * rest of the last op's signed batch, so the batch's proof travels once and
 * without digests, and after every version of the last seq, so a page never
 * splits the ops an origin signed twice with one seq.
 */
import { proofSize } from '../proof.js'
import type { Op } from '../types.js'

/**
 * `first` is a page of at most `limit` ops in seq order, with proofs;
 * `range(after, upTo)` reads every op with `after < seq <= upTo`.
 */
export function completePage (first: Op[], limit: number, range: (after: number, upTo: number) => Op[]): Op[] {
  const last = first.at(-1)
  if (last === undefined || first.length < limit) return first
  const end = last.proof == null ? last.seq : Math.max(last.seq, last.proof.first + proofSize(last.proof) - 1)
  const tail = range(last.seq - 1, end).sort((a, b) => a.seq - b.seq)
  return [...first.filter(op => op.seq < last.seq), ...tail]
}
