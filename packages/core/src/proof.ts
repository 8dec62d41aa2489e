/**
 * Batch proofs: one origin signature covers a run of its ops.
 *
 * An origin signs a batch of consecutive seqs at once: the signed bytes name
 * the origin and the first seq and list the SHA-256 digest of every op of the
 * batch (`opDigest`). Each op carries the batch's `OpProof`, so any node may
 * relay any subset of the batch: a receiver recomputes the digest of each op
 * it got, takes the digests of the ops it did not get from the proof, and
 * checks the one signature. Signing and checking cost one Ed25519 operation
 * per batch instead of one per op, and a full batch on the wire costs one
 * signature, not one per op.
 */
import * as crypto from 'node:crypto'
import { boundToProof } from './codec.js'
import { withSigningPayload } from './signing-payload.js'
import type { Op, OpProof } from './types.js'

export const DIGEST_BYTES = 32
/** Most ops one proof covers; larger writes are split into several batches. */
export const MAX_BATCH_OPS = 256
/** Most key and value bytes one batch covers, so a batch fits one gossip message (one large op goes alone). */
export const MAX_BATCH_BYTES = 128 * 1024

/** SHA-256 of the op's canonical encoding (`signingPayload`, written without allocating). */
export function opDigest (op: Op): Uint8Array {
  return withSigningPayload(op, sha256)
}

// crypto.hash (Node ≥ 20.12, one shot) is a third faster than createHash for small inputs
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer }).hash
const sha256 = oneShot != null
  ? (data: Uint8Array): Uint8Array => oneShot('sha256', data, 'buffer')
  : (data: Uint8Array): Uint8Array => crypto.createHash('sha256').update(data).digest()

/** How many ops a proof covers. */
export function proofSize (proof: OpProof): number {
  return proof.digests.length / DIGEST_BYTES
}

/**
 * The bytes an origin signs for a batch (the signer adds its own domain in
 * front): the origin, the first seq and the digests.
 */
export function proofPayload (origin: string, first: number, digests: Uint8Array): Uint8Array {
  const name = Buffer.from(origin, 'utf8')
  const out = Buffer.alloc(2 + name.length + 8 + digests.length)
  out.writeUInt16BE(name.length, 0)
  name.copy(out, 2)
  out.writeBigUInt64BE(BigInt(first), 2 + name.length)
  out.set(digests, 10 + name.length)
  return out
}

/**
 * Why `op` is not covered by its proof (structurally; the signature is the
 * caller's to check), or undefined when its digest is the proof's entry for
 * its seq.
 */
export function proofProblem (op: Op): string | undefined {
  const proof = op.proof
  if (proof == null) return 'unsigned op'
  const index = op.seq - proof.first
  if (proof.digests.length % DIGEST_BYTES !== 0 || index < 0 || index >= proofSize(proof)) return `seq ${op.seq} is outside its signed batch`
  if (boundToProof(op)) return undefined // the decoder put this op's digest into its slot
  const expected = proof.digests.subarray(index * DIGEST_BYTES, (index + 1) * DIGEST_BYTES)
  if (Buffer.compare(opDigest(op), expected) !== 0) return 'op does not match its signed batch'
  return undefined
}

/**
 * Splits one origin's new ops (consecutive seqs) into batches of at most
 * `MAX_BATCH_OPS` ops and `MAX_BATCH_BYTES` bytes, signs each with `sign`
 * (over `proofPayload`) and attaches the proof to its ops.
 */
export function proveOps (ops: Op[], sign: (payload: Uint8Array) => Uint8Array): void {
  let start = 0
  while (start < ops.length) {
    let end = start
    let bytes = 0
    while (end < ops.length && end - start < MAX_BATCH_OPS) {
      const op = ops[end] as Op
      const size = op.key.length * 3 + (op.value?.length ?? 0)
      if (end > start && bytes + size > MAX_BATCH_BYTES) break
      bytes += size
      end++
    }
    const batch = ops.slice(start, end)
    const first = batch[0] as Op
    const digests = new Uint8Array(batch.length * DIGEST_BYTES)
    batch.forEach((op, i) => { digests.set(opDigest(op), i * DIGEST_BYTES) })
    const proof: OpProof = { sig: sign(proofPayload(first.origin, first.seq, digests)), first: first.seq, digests }
    for (const op of batch) op.proof = proof
    start = end
  }
}
