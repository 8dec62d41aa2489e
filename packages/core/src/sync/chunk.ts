/**
 * Cutting ops into messages (gossip) and frames (sync) whose encoding fits a
 * byte budget, never splitting the ops of one signed batch that fit
 * together, so each batch's proof travels once.
 *
 * The budget counts what `encodeOps` writes, as an upper bound: each op's
 * key, value and numbers, each origin once, and each proof once with its
 * signature and the digests of its batch's ops the chunk lacks (an op sent
 * without the rest of its batch carries the others' digests: up to
 * 255 × 32 bytes). Counting
 * only keys and values let a frame of ops from many batches (a snapshot's
 * rows in key order) grow to several times the budget, past what the
 * receiver accepts.
 */
import { DIGEST_BYTES } from '../proof.js'
import type { Op, OpProof } from '../types.js'

/** An op's flags byte, key and value lengths, four varints (wall, logical, origin, seq) and its proof's index, at most. */
const OP_FIXED = 64
/** A proof's signature, origin, first seq, count and missing count, at most. */
const PROOF_FIXED = 96
/** A missing digest and its slot, at most. */
const DIGEST_SLOT = DIGEST_BYTES + 3

/** What an op adds to a message at most, besides its origin and proof. */
export function payloadSize (op: Op): number {
  return op.key.length * 3 + (op.value?.length ?? 0) + OP_FIXED
}

/** What a proof adds to a message at most, with `present` of its batch's ops in the message: its signature and the others' digests. */
function proofBound (proof: OpProof, present: number): number {
  return PROOF_FIXED + (proof.digests.length / DIGEST_BYTES - present) * DIGEST_SLOT
}

/** The origins and proofs a chunk already carries, and its size. */
class Chunk {
  ops: Op[] = []
  bytes = 0
  private readonly origins = new Set<string>()
  /** Proof → how many of its batch's ops the chunk holds. */
  private readonly proofs = new Map<OpProof, number>()

  /** What `ops` would add to this chunk. */
  cost (ops: Op[]): number {
    let bytes = 0
    const origins = new Set<string>()
    const adding = new Map<OpProof, number>()
    for (const op of ops) {
      bytes += payloadSize(op)
      if (!this.origins.has(op.origin) && !origins.has(op.origin)) {
        origins.add(op.origin)
        bytes += op.origin.length * 3 + 5
      }
      if (op.proof != null) adding.set(op.proof, (adding.get(op.proof) ?? 0) + 1)
    }
    for (const [proof, count] of adding) {
      const present = this.proofs.get(proof)
      bytes += proofBound(proof, (present ?? 0) + count) - (present === undefined ? 0 : proofBound(proof, present))
    }
    return bytes
  }

  add (ops: Op[], bytes: number): void {
    for (const op of ops) {
      this.ops.push(op)
      this.origins.add(op.origin)
      if (op.proof != null) this.proofs.set(op.proof, (this.proofs.get(op.proof) ?? 0) + 1)
    }
    this.bytes += bytes
  }
}

/** Splits ops, in order, into runs that encode within `maxBytes` (one oversized op goes alone). */
export function chunkByBytes (ops: Op[], maxBytes: number): Op[][] {
  const chunks: Op[][] = []
  let current = new Chunk()
  for (const op of ops) {
    let size = current.cost([op])
    if (current.ops.length > 0 && current.bytes + size > maxBytes) {
      chunks.push(current.ops)
      current = new Chunk()
      size = current.cost([op])
    }
    current.add([op], size)
  }
  if (current.ops.length > 0) chunks.push(current.ops)
  return chunks
}

/** Like `chunkByBytes`, but keeps the ops of one batch (one proof) together where they fit. */
export function chunkByBatch (ops: Op[], maxBytes: number): Op[][] {
  const chunks: Op[][] = []
  let current = new Chunk()
  for (let start = 0; start < ops.length;) {
    const proof = (ops[start] as Op).proof
    let end = start + 1
    while (end < ops.length && proof != null && (ops[end] as Op).proof === proof) end++
    const run = ops.slice(start, end)
    let size = current.cost(run)
    if (current.ops.length > 0 && current.bytes + size > maxBytes) {
      chunks.push(current.ops)
      current = new Chunk()
      size = current.cost(run)
    }
    if (size > maxBytes) {
      // a batch too large for one chunk: on its own, cut by bytes
      if (current.ops.length > 0) chunks.push(current.ops)
      chunks.push(...chunkByBytes(run, maxBytes))
      current = new Chunk()
    } else current.add(run, size)
    start = end
  }
  if (current.ops.length > 0) chunks.push(current.ops)
  return chunks
}
