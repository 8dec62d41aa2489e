/**
 * Helpers for the per-origin bookkeeping every store and the replica share:
 * digest accumulators, marks, and reads of peer-sent vectors.
 */
import { DIGEST_BYTES, opDigest } from './proof.js'
import type { Mark, Op, OriginState, VersionVector } from './types.js'

/** The accumulator of no ops. */
export const EMPTY_ACC: Uint8Array = new Uint8Array(DIGEST_BYTES)

/** `acc` XOR `digest`, as a new array. XOR makes the accumulator independent of arrival order. */
export function xorInto (acc: Uint8Array, digest: Uint8Array): Uint8Array {
  const out = new Uint8Array(DIGEST_BYTES)
  for (let i = 0; i < DIGEST_BYTES; i++) out[i] = (acc[i] ?? 0) ^ (digest[i] ?? 0)
  return out
}

/**
 * Whether `target` is the XOR of some of `digests` (none of them: all zeros),
 * by elimination over GF(2): each digest is reduced by the basis so far (a
 * basis vector has no bit set at an earlier one's pivot), and kept when
 * something is left. Meaningful only for a few digests (see
 * `Unasked.lacksOnlyHeld`): 256 independent ones span every target.
 */
export function xorOfSome (target: Uint8Array, digests: Uint8Array[]): boolean {
  const basis: Array<{ pivot: number, bits: Uint8Array }> = []
  const reduce = (vector: Uint8Array): Uint8Array => {
    const bits = new Uint8Array(vector)
    for (const b of basis) if (((bits[b.pivot >> 3] ?? 0) & (0x80 >> (b.pivot & 7))) !== 0) for (let i = 0; i < bits.length; i++) bits[i] = (bits[i] ?? 0) ^ (b.bits[i] ?? 0)
    return bits
  }
  const pivotOf = (bits: Uint8Array): number => {
    for (let i = 0; i < bits.length; i++) if (bits[i] !== 0) return i * 8 + Math.clz32(bits[i] as number) - 24
    return -1
  }
  for (const digest of digests) {
    const bits = reduce(digest)
    const pivot = pivotOf(bits)
    if (pivot >= 0) basis.push({ pivot, bits })
  }
  return pivotOf(reduce(target)) === -1
}

export function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

export const ZERO_MARK: Mark = Object.freeze({ seq: 0, wall: 0, logical: 0, acc: EMPTY_ACC }) as Mark

export function freshOrigin (): OriginState {
  return { held: { ...ZERO_MARK }, floor: { ...ZERO_MARK } }
}

/**
 * `vector[origin]`, or 0. Vectors come from peers, so an origin named like an
 * `Object.prototype` member ("constructor") must not read the prototype.
 */
export function seqOf (vector: VersionVector, origin: string): number {
  return Object.hasOwn(vector, origin) ? vector[origin] ?? 0 : 0
}

/**
 * The digest of an op: taken from its proof when it has one (the decoder and
 * the signer both put it there, and a checked proof matches it), computed
 * otherwise.
 */
export function digestOf (op: Op): Uint8Array {
  const proof = op.proof
  if (proof != null && proof.digests.length >= DIGEST_BYTES) {
    const slot = op.seq - proof.first
    if (slot >= 0 && (slot + 1) * DIGEST_BYTES <= proof.digests.length) return proof.digests.subarray(slot * DIGEST_BYTES, (slot + 1) * DIGEST_BYTES)
  }
  return opDigest(op)
}
