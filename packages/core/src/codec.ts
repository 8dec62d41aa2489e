/**
 * The binary form of an op batch, as sent over gossip and the sync stream.
 *
 * Layout (varint = unsigned LEB128, at most 2^53 - 1):
 *
 *   version    1 byte, = 2
 *   origins    varint count, then per origin: varint length + UTF-8
 *   proofs     varint count, then per proof (see proof.ts):
 *     origin index, first seq, op count      3 varints (count at most 1024)
 *     sig      varint length + bytes (at most 128)
 *     digests  varint k, then k × (varint index + 32 bytes): the digests of
 *              the batch's ops that are not in this message
 *   ops        varint count, then per op:
 *     flags    1 byte; bit 0 = tombstone, bit 1 = proved, bits 2-3 = value
 *              type (0 text, 1 json, 2 binary; 0 for a tombstone), bit 4 =
 *              has expiry (never on a tombstone), bit 5 = has seen, bit 6 =
 *              a keepalive refresh (only with an expiry and a seen of the
 *              op's own origin, see `Op.refresh`); bit 7 must be 0. An op
 *              without a type, an expiry, `seen` or the refresh bit has the
 *              flags it had before they existed, so its bytes, digest and
 *              signature are unchanged.
 *     key      varint length + UTF-8
 *     value    varint length + bytes (absent for a tombstone)
 *     expires  varint, HLC wall ms (only with bit 4)
 *     seen     (bit 5 only) wall, logical, origin index: 3 varints, the
 *              version of the key the writer held (see `Op.seen`)
 *     wall, logical, origin index, seq    4 varints
 *     proof    varint index into proofs (only when proved)
 *
 * The decoder computes the digest of every op that is present and fills it
 * into its proof, so a message carrying a whole batch costs one signature and
 * no digests; every proof must end up with every digest, and every op must
 * have its own slot, or the message is malformed. A batch from one origin
 * names it once, so the overhead per op is a dozen bytes or so on top of the
 * key and value.
 */
import { ByteReader, ByteWriter } from './bytes.js'
import { OpCodecError } from './errors.js'
import { DIGEST_BYTES, opDigest } from './proof.js'
import type { Op, OpProof, Seen } from './types.js'

export const FORMAT_VERSION = 2
const TOMBSTONE = 0b1
const PROVED = 0b10
const TYPE_SHIFT = 2
const TYPE_BITS = 0b1100
const TYPES = [undefined, 'json', 'binary'] as const
const EXPIRES = 0b10000
const HAS_SEEN = 0b100000
const REFRESH = 0b1000000
/** Most ops one proof may cover on the wire (writers use at most `MAX_BATCH_OPS`). */
const MAX_PROOF_OPS = 1024
const MAX_SIG_BYTES = 128
export const MAX_ORIGIN_BYTES = 128
/**
 * The fewest bytes a proved op takes on the wire (a delete: flags, a key of
 * one byte and its length, wall, logical, origin, seq and proof index, a byte
 * each), and a digest a proof gives (its slot, then 32 bytes). A proof's
 * slots are made as it is read, 33 bytes each, and each must be filled by a
 * digest it gives or an op of the batch that follows: one claiming 1,024
 * slots takes 7 bytes, and a 1.4 MB gossip message of 200,000 of them made
 * 6.6 GB (and held the event loop 64 s) before the batch was found to hold no
 * such ops. The slots a proof leaves to ops must
 * fit in what is left of the batch at these sizes, so a batch makes at most
 * ~5 bytes of slots for each of its own.
 */
const MIN_PROVED_OP_BYTES = 8
const GIVEN_DIGEST_BYTES = 1 + 32

export interface DecodeLimits {
  /** Reject a batch of more ops than this. Default: no limit beyond the buffer. */
  maxOps?: number
  /** Reject a key longer than this many UTF-8 bytes. Default: 1024. */
  maxKeyBytes?: number
  /** Reject a value longer than this many bytes. Default: 1 MiB. */
  maxValueBytes?: number
}

const encoder = new TextEncoder()

/**
 * Encodes ops. Throws `OpCodecError` for an op that would not decode to
 * itself: an empty or malformed (lone surrogate) key or origin, an origin over
 * 128 bytes, a seq below 1, or a number that is not a safe non-negative
 * integer. Size limits are the receiver's to enforce.
 */
export function encodeOps (ops: Op[]): Uint8Array {
  const origins = new Map<string, number>()
  const proofs = new Map<OpProof, { index: number, origin: string, present: Set<number> }>()
  for (const op of ops) {
    if (!origins.has(op.origin)) origins.set(op.origin, origins.size)
    if (op.seen !== undefined && !origins.has(op.seen.origin)) origins.set(op.seen.origin, origins.size)
    if (op.proof == null) continue
    let entry = proofs.get(op.proof)
    if (entry == null) proofs.set(op.proof, (entry = { index: proofs.size, origin: op.origin, present: new Set() }))
    const slot = op.seq - op.proof.first
    if (op.origin !== entry.origin) throw new OpCodecError(`op ${JSON.stringify(op.key)} shares a proof with another origin`)
    if (slot < 0 || slot >= op.proof.digests.length / DIGEST_BYTES) throw new OpCodecError(`op ${JSON.stringify(op.key)} (seq ${op.seq}) is outside its proof`)
    if (entry.present.has(slot)) throw new OpCodecError(`seq ${op.seq} of ${op.origin} appears twice`)
    entry.present.add(slot)
  }
  const out = new ByteWriter()
  out.byte(FORMAT_VERSION)
  out.varint(origins.size)
  for (const origin of origins.keys()) {
    if (origin.length === 0 || !origin.isWellFormed()) throw new OpCodecError(`origin ${JSON.stringify(origin)} is empty or not well-formed`)
    const bytes = encoder.encode(origin)
    if (bytes.length > MAX_ORIGIN_BYTES) throw new OpCodecError(`origin is ${bytes.length} bytes, limit is ${MAX_ORIGIN_BYTES}`)
    out.bytes(bytes)
  }
  out.varint(proofs.size)
  for (const [proof, { origin, present }] of proofs) {
    const count = proof.digests.length / DIGEST_BYTES
    out.varint(origins.get(origin) ?? 0)
    out.varint(proof.first)
    out.varint(count)
    out.bytes(proof.sig)
    out.varint(count - present.size)
    for (let slot = 0; slot < count; slot++) {
      if (present.has(slot)) continue
      out.varint(slot)
      out.raw(proof.digests.subarray(slot * DIGEST_BYTES, (slot + 1) * DIGEST_BYTES))
    }
  }
  out.varint(ops.length)
  for (const op of ops) {
    if (op.key.length === 0 || !op.key.isWellFormed()) throw new OpCodecError(`key ${JSON.stringify(op.key)} is empty or not well-formed`)
    if (op.seq < 1) throw new OpCodecError(`seq ${op.seq} is below 1`)
    out.byte(contentFlags(op) | (op.proof != null ? PROVED : 0))
    out.bytes(encoder.encode(op.key))
    if (op.value !== null) out.bytes(op.value)
    if (op.expires !== undefined) out.varint(op.expires)
    if (op.seen !== undefined) for (const n of [op.seen.wall, op.seen.logical, origins.get(op.seen.origin) ?? 0]) out.varint(n)
    for (const n of [op.wall, op.logical, origins.get(op.origin) ?? 0, op.seq]) out.varint(n)
    if (op.proof != null) out.varint(proofs.get(op.proof)?.index ?? 0)
  }
  return out.finish()
}

/**
 * The flags of an op's content (tombstone, value type, expiry, has seen,
 * refresh), as signed. Throws for a typed or expiring tombstone, an unknown
 * type, or a refresh without an expiry or a `seen` of its own origin.
 */
export function contentFlags (op: Op): number {
  const type = op.type === undefined || (op.type as string) === 'text' ? 0 : TYPES.indexOf(op.type)
  if (type < 0) throw new OpCodecError(`op ${JSON.stringify(op.key)} has an unknown value type ${JSON.stringify(op.type)}`)
  if (op.value === null && (type !== 0 || op.expires !== undefined)) throw new OpCodecError(`op ${JSON.stringify(op.key)} is a delete with a value type or an expiry`)
  const refresh = op.refresh === true
  if (refresh && (op.expires === undefined || op.seen?.origin !== op.origin)) throw new OpCodecError(`op ${JSON.stringify(op.key)} is a refresh without an expiry or a seen version of its own origin`)
  return (op.value === null ? TOMBSTONE : 0) | (type << TYPE_SHIFT) | (op.expires !== undefined ? EXPIRES : 0) | (op.seen !== undefined ? HAS_SEEN : 0) |
    (refresh ? REFRESH : 0)
}

/**
 * Marks an op `decodeOps` filled into its proof itself (it computed its digest
 * into its slot), so checking it against it again would only repeat it. A
 * property that is not enumerable, so a copy of the op (`{ ...op }`) is not
 * marked; one per op, where a WeakMap entry per op made every garbage
 * collection trace millions of ephemerons.
 */
const BOUND = Symbol('bound to its proof')

/** Whether `op` came out of `decodeOps` with the proof it still carries (and so matches its slot). */
export function boundToProof (op: Op): boolean {
  return op.proof != null && (op as { [BOUND]?: OpProof })[BOUND] === op.proof
}

/** Decodes and validates a batch. Throws `OpCodecError`, and nothing else, on any malformed input. */
export function decodeOps (bytes: Uint8Array, limits: DecodeLimits = {}): Op[] {
  const maxOps = limits.maxOps ?? Infinity
  const maxKeyBytes = limits.maxKeyBytes ?? 1024
  const maxValueBytes = limits.maxValueBytes ?? 1024 * 1024
  const input = new ByteReader(bytes)
  const version = input.byte('format version')
  if (version !== FORMAT_VERSION) throw new OpCodecError(`unknown format version ${version}`)
  const origins: string[] = []
  const originCount = input.varint('origin count')
  for (let i = 0; i < originCount; i++) {
    const origin = input.text(`origin ${i}`, MAX_ORIGIN_BYTES)
    if (origin.length === 0) throw new OpCodecError(`origin ${i} is empty`)
    origins.push(origin)
  }
  const proofs: DecodedProof[] = []
  const proofCount = input.varint('proof count')
  // every proof covers an op of the batch (checked at its end): each takes that op's bytes at least
  if (proofCount * MIN_PROVED_OP_BYTES > input.remaining()) throw new OpCodecError(`${proofCount} proofs, each covering an op, in a batch of ${input.remaining()} more bytes`)
  const owed = { slots: 0 }
  for (let i = 0; i < proofCount; i++) proofs.push(readProof(input, origins, `proof ${i}`, owed))
  const opCount = input.varint('op count')
  if (opCount > maxOps) throw new OpCodecError(`batch has ${opCount} ops, limit is ${maxOps}`)
  const ops: Op[] = []
  for (let i = 0; i < opCount; i++) {
    input.scope('op', i)
    ops.push(readOp(input, origins, proofs, maxKeyBytes, maxValueBytes))
  }
  input.scope('')
  if (!input.atEnd()) throw new OpCodecError(`${input.remaining()} trailing bytes after the last op`)
  proofs.forEach((proof, i) => {
    if (!proof.used) throw new OpCodecError(`proof ${i} covers no op of this batch`)
    const missing = proof.filled.indexOf(0)
    if (missing !== -1) throw new OpCodecError(`proof ${i} lacks the digest of seq ${proof.proof.first + missing}`)
  })
  return ops
}

interface DecodedProof {
  proof: OpProof
  origin: string
  /** 1 where the slot's digest is known. */
  filled: Uint8Array
  used: boolean
}

/** `owed.slots`: the slots the proofs read so far leave to the batch's ops (this adds its own). */
function readProof (input: ByteReader, origins: string[], what: string, owed: { slots: number }): DecodedProof {
  const origin = origins[input.varint(`${what} origin index`)]
  if (origin === undefined) throw new OpCodecError(`${what} origin index is out of range (${origins.length} origins)`)
  const first = input.varint(`${what} first seq`)
  if (first < 1) throw new OpCodecError(`${what} first seq is 0`)
  const count = input.varint(`${what} op count`)
  if (count < 1 || count > MAX_PROOF_OPS) throw new OpCodecError(`${what} covers ${count} ops, limit is 1 to ${MAX_PROOF_OPS}`)
  if (first + count - 1 > Number.MAX_SAFE_INTEGER) throw new OpCodecError(`${what} seqs are above 2^53 - 1`)
  const sig = new Uint8Array(input.chunk(`${what} sig`, MAX_SIG_BYTES))
  const given = input.varint(`${what} digest count`)
  if (given > count) throw new OpCodecError(`${what} gives ${given} digests for ${count} ops`)
  const after = input.remaining() - given * GIVEN_DIGEST_BYTES
  owed.slots += count - given
  // checked before its slots are made: a proof pays for them with digests it gives, or with ops the batch holds
  if (after < 0 || owed.slots * MIN_PROVED_OP_BYTES > after) throw new OpCodecError(`${what} covers ${count} ops and gives ${given} digests: the ${owed.slots} ops the proofs leave to this batch cannot fit in its ${Math.max(0, after)} remaining bytes`)
  const digests = new Uint8Array(count * DIGEST_BYTES)
  const filled = new Uint8Array(count)
  for (let i = 0; i < given; i++) {
    const slot = input.varint(`${what} digest index`)
    if (slot >= count) throw new OpCodecError(`${what} digest index ${slot} is out of range`)
    if (filled[slot] !== 0) throw new OpCodecError(`${what} gives digest ${slot} twice`)
    digests.set(input.fixed(`${what} digest ${slot}`, DIGEST_BYTES), slot * DIGEST_BYTES)
    filled[slot] = 1
  }
  return { proof: { sig, first, digests }, origin, filled, used: false }
}

/** Reads one op, within the reader's scope ("op <index>"): the messages of its checks are built only when one fails. */
function readOp (input: ByteReader, origins: string[], proofs: DecodedProof[], maxKeyBytes: number, maxValueBytes: number): Op {
  const fail = (what: string): never => { throw new OpCodecError(input.named(what)) }
  const flags = input.byte('flags')
  if ((flags & ~(TOMBSTONE | PROVED | TYPE_BITS | EXPIRES | HAS_SEEN | REFRESH)) !== 0) fail(`has unknown flags 0x${flags.toString(16)}`)
  const typeIndex = (flags & TYPE_BITS) >> TYPE_SHIFT
  if (typeIndex >= TYPES.length) fail(`has unknown value type ${typeIndex}`)
  if ((flags & TOMBSTONE) !== 0 && (typeIndex !== 0 || (flags & EXPIRES) !== 0)) fail('is a delete with a value type or an expiry')
  const key = input.text('key', maxKeyBytes)
  if (key.length === 0) fail('key is empty')
  // A copy, so the op does not pin (or change with) the caller's receive buffer.
  const value = (flags & TOMBSTONE) !== 0 ? null : new Uint8Array(input.chunk('value', maxValueBytes))
  const expires = (flags & EXPIRES) !== 0 ? input.varint('expires') : undefined
  const seen = (flags & HAS_SEEN) !== 0 ? readSeen(input, origins, fail) : undefined
  const wall = input.varint('wall')
  const logical = input.varint('logical')
  const origin = origins[input.varint('origin index')]
  if (origin === undefined) return fail(`origin index is out of range (${origins.length} origins)`)
  const seq = input.varint('seq')
  if (seq < 1) fail('seq is 0')
  const type = TYPES[typeIndex]
  const op: Op = type === undefined ? { key, value, wall, logical, origin, seq } : { key, value, type, wall, logical, origin, seq }
  if (expires !== undefined) op.expires = expires
  if (seen !== undefined) op.seen = seen
  if ((flags & REFRESH) !== 0) {
    if (expires === undefined || seen?.origin !== origin) fail('is a refresh without an expiry or a seen version of its own origin')
    op.refresh = true
  }
  if ((flags & PROVED) === 0) return op
  const entry = proofs[input.varint('proof index')]
  if (entry === undefined) return fail(`proof index is out of range (${proofs.length} proofs)`)
  if (entry.origin !== origin) fail('is from another origin than its proof')
  const slot = seq - entry.proof.first
  if (slot < 0 || slot >= entry.filled.length) fail(`seq ${seq} is outside its proof`)
  if (entry.filled[slot] !== 0) fail(`seq ${seq} is already in its proof`)
  entry.proof.digests.set(opDigest(op), slot * DIGEST_BYTES)
  entry.filled[slot] = 1
  entry.used = true
  op.proof = entry.proof
  Object.defineProperty(op, BOUND, { value: entry.proof })
  return op
}

function readSeen (input: ByteReader, origins: string[], fail: (what: string) => never): Seen {
  const wall = input.varint('seen wall')
  const logical = input.varint('seen logical')
  const origin = origins[input.varint('seen origin index')]
  if (origin === undefined) return fail(`seen origin index is out of range (${origins.length} origins)`)
  return { wall, logical, origin }
}
