/**
 * How both stores end a page of one origin's ops (`Store.opsOf`): after the
 * rest of the last op's signed batch, so the batch's proof travels once and
 * without digests, and after every version of the last seq, so a page never
 * splits the ops an origin signed twice with one seq. A page is bounded in
 * bytes as it is read, not cut after: a page of 512 small ops asked for 512
 * more, and where large ones followed, a serve read 24 MiB of them from
 * SQLite to keep 2 MiB (512 MiB for values of 1 MiB).
 */
import { proofSize } from '../proof.js'
import { payloadSize } from '../sync/chunk.js'
import type { Op } from '../types.js'

/**
 * The page `ops` begins (one origin's ops above some seq, in seq order, with
 * proofs, read lazily: no op past the page's first left out is read): `limit`
 * ops, then the rest of the limit-th's batch and seq; but no op that would
 * take it past `maxBytes` (`payloadSize`), once it holds one, unless it
 * shares the last op's seq.
 */
export function takePage<T extends Op> (ops: Iterable<T>, limit: number, maxBytes = Infinity): T[] {
  const page: T[] = []
  let bytes = 0
  let end = Infinity
  for (const op of ops) {
    const last = page.at(-1)
    const size = payloadSize(op)
    if (last !== undefined && op.seq !== last.seq && (op.seq > end || bytes + size > maxBytes)) break
    page.push(op)
    bytes += size
    if (page.length === limit) end = op.proof == null ? op.seq : Math.max(op.seq, op.proof.first + proofSize(op.proof) - 1)
  }
  return page
}
