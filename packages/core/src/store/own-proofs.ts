/**
 * Proofs given to this node's own ops after their commit (see
 * `Replica.prove`): an op committed unsigned gets its batch's signature in
 * place, in `kv_store` if it is still its key's row and in `op_history` if it
 * lost, and the batch's digests are held for each row that now points at
 * them. Unsigned ops are always an origin's newest: signing goes in seq order.
 */
import { digestOf } from '../marks.js'
import type { BatchRefs } from './batch-refs.js'
import type { Statements } from './sqlite-schema.js'
import type { Op } from '../types.js'

export function proveOwn (sql: Statements, refs: BatchRefs, ops: Op[]): void {
  for (const op of ops) {
    const proof = op.proof
    if (proof == null) continue
    // an op is its key's row or in history, never both (a row moves to history as the op that beats it takes its place)
    const rows = sql.proveRow.run(proof.sig, op.key, op.origin, op.seq).changes ||
      sql.proveHistory.run(proof.sig, op.origin, op.seq, digestOf(op)).changes
    if (rows > 0) refs.hold(op)
  }
}

/** The highest seq of `origin` held with a signature, rows and history (0: none). */
export function signedUpTo (sql: Statements, origin: string): number {
  return Math.max(sql.signedRow.get(origin)?.seq ?? 0, sql.signedHistory.get(origin)?.seq ?? 0)
}
