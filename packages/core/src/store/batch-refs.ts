/**
 * `op_batch` reference counts. A batch's digests are kept while any of its
 * ops is held (as a row or in history); a one-op batch needs no row, since its
 * only digest is its op's own. Changes within a transaction are summed and
 * written once per batch when it commits.
 */
import { DIGEST_BYTES } from '../proof.js'
import type { Op, OpProof } from '../types.js'
import type { Statements } from './sqlite-schema.js'

interface Delta { sig: Uint8Array, proof?: OpProof, delta: number }

/** Whether a proof needs an `op_batch` row: all but a one-op batch whose digest is its op's own. */
export function needsRow (op: Op, proof: OpProof): boolean {
  return proof.digests.length !== DIGEST_BYTES || proof.first !== op.seq
}

export class BatchRefs {
  private readonly sql: Statements
  private readonly deltas = new Map<string, Delta>()
  /** The entry of the proof `hold` saw last: a batch's ops arrive together. */
  private last?: { proof: OpProof, entry: Delta }

  constructor (sql: Statements) {
    this.sql = sql
  }

  /** A held op now points at its proof's batch. */
  hold (op: Op): void {
    const proof = op.proof
    if (proof == null || !needsRow(op, proof)) return
    if (this.last?.proof !== proof) this.last = { proof, entry: this.entry(proof.sig) }
    this.last.entry.proof = proof
    this.last.entry.delta++
  }

  /** A held op that pointed at batch `sig` is gone. */
  release (sig: Uint8Array | null): void {
    if (sig !== null) this.entry(sig).delta--
  }

  /** Writes the summed changes (inside the committing transaction). */
  flush (): void {
    for (const { sig, proof, delta } of this.deltas.values()) {
      if (delta === 0) continue
      if (proof != null && delta > 0) this.sql.holdBatch.run({ sig, first: proof.first, digests: proof.digests, delta })
      else this.sql.releaseBatch.run({ sig, delta })
      if (delta < 0) this.sql.dropBatch.run(sig)
    }
    this.discard()
  }

  /** Forgets unwritten changes (the transaction rolled back). */
  discard (): void {
    this.deltas.clear()
    this.last = undefined
  }

  private entry (sig: Uint8Array): Delta {
    const id = Buffer.from(sig.buffer, sig.byteOffset, sig.length).toString('base64')
    let entry = this.deltas.get(id)
    if (entry == null) this.deltas.set(id, (entry = { sig, delta: 0 }))
    return entry
  }
}

/** Deletes `origin`'s history at or below `upTo`, releasing its batches; returns how many ops went. */
export function dropHistory (sql: Statements, refs: BatchRefs, origin: string, upTo: number): number {
  const gone = sql.historyUpTo.all({ origin, upTo })
  for (const { sig } of gone) refs.release(sig)
  sql.dropHistory.run({ origin, upTo })
  return gone.length
}
