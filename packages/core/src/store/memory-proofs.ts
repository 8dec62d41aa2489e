/**
 * `MemoryStore.prove`: this node's own ops, committed unsigned, get their
 * batch's proof in place (see `Replica.prove`), as a row and in history,
 * each change undone with the transaction.
 */
import { digestOf } from '../marks.js'
import type { Op } from '../types.js'

/** An op that lost, with its digest. */
export interface Versioned { op: Op, digest: Uint8Array }

export interface MemoryTables {
  current: Map<string, Op>
  history: Map<string, Versioned[]>
  /** Sets a row, undone with the transaction. */
  assign: (key: string, op: Op) => void
  record: (undo: () => void) => void
}

export function proveInMemory (tables: MemoryTables, ops: Op[]): void {
  for (const op of ops) {
    const proof = op.proof
    if (proof == null) continue
    const row = tables.current.get(op.key)
    if (row !== undefined && row.origin === op.origin && row.seq === op.seq && row.proof == null) tables.assign(op.key, { ...row, proof })
    for (const version of tables.history.get(op.origin) ?? []) {
      if (version.op.seq !== op.seq || version.op.proof != null || Buffer.compare(version.digest, digestOf(op)) !== 0) continue
      const before = version.op
      version.op = { ...before, proof }
      tables.record(() => { version.op = before })
    }
  }
}
