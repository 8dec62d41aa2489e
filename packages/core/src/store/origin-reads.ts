/**
 * Reads of one origin's ops by sequence number, rows and history alike: what
 * sync serves and what attestations are checked against. A seq may name
 * several ops (an origin that equivocated), in either table.
 */
import { compareStamps } from '../compare.js'
import { completePage } from './pages.js'
import { merged, withProof } from './sqlite-rows.js'
import type { Statements } from './sqlite-schema.js'
import type { HeldOp, OpProof, Stamp } from '../types.js'

/** Up to `limit` of `origin`'s ops above `after` (a page ends on a whole seq), each with its batch's proof. */
export function opsOf (sql: Statements, origin: string, after: number, limit: number): HeldOp[] {
  const proofs = new Map<string, OpProof | null>()
  const first = merged(sql.rowsOf.all({ origin, after, limit }), sql.historyOf.all({ origin, after, limit }), limit)
  return completePage(first.map(row => withProof(sql, row, proofs)), limit, (from, upTo) => {
    const range = { origin, after: from, upTo }
    return [...sql.rowsIn.all(range), ...sql.historyIn.all(range)].map(row => withProof(sql, row, proofs))
  })
}

/** The digests of `origin`'s ops in (`after`, `upTo`]. */
export function digestsIn (sql: Statements, origin: string, after: number, upTo: number): Uint8Array[] {
  const range = { origin, after, upTo }
  return [...sql.rowDigestsIn.all(range), ...sql.historyDigestsIn.all(range)].map(row => row.digest)
}

/** The lowest stamp of the ops `origin` wrote as `seq`. */
export function stampAt (sql: Statements, origin: string, seq: number): Stamp | undefined {
  const range = { origin, after: seq - 1, upTo: seq }
  let lowest: Stamp | undefined
  for (const row of [...sql.rowsIn.all(range), ...sql.historyIn.all(range)]) {
    if (lowest === undefined || compareStamps(row, lowest) < 0) lowest = { wall: row.wall, logical: row.logical }
  }
  return lowest
}
