/**
 * Reads of one origin's ops by sequence number, rows and history alike: what
 * sync serves and what attestations are checked against. A seq may name
 * several ops (an origin that equivocated), in either table.
 */
import { compareStamps } from '../compare.js'
import { takePage } from './pages.js'
import { merged, withProof } from './sqlite-rows.js'
import type { Statements } from './sqlite-schema.js'
import type { HeldOp, OpProof, Stamp } from '../types.js'

/** About `limit` of `origin`'s ops above `after`, at most `maxBytes` of them (`Store.opsOf`), each with its batch's proof. */
export function opsOf (sql: Statements, origin: string, after: number, limit: number, maxBytes?: number): HeldOp[] {
  const proofs = new Map<string, OpProof | null>()
  // rows are read one at a time as the page takes them (a limit of -1 is none): a page that ends early reads no more
  const range = { origin, after, limit: -1 }
  const rows = sql.rowsOf.iterate(range)
  const history = sql.historyOf.iterate(range)
  try {
    return takePage(map(merged(rows, history), row => withProof(sql, row, proofs)), limit, maxBytes)
  } finally {
    rows.return?.()
    history.return?.()
  }
}

function * map<T, U> (items: Iterable<T>, f: (item: T) => U): Generator<U> {
  for (const item of items) yield f(item)
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
