/**
 * The canonical bytes of one op, without its proof: what `opDigest` hashes
 * and so what an origin signs. The codec's form of a batch of that one op
 * (see codec.ts), written by `withSigningPayload` into a reused buffer.
 */
import { MAX_VARINT_BYTES } from './bytes.js'
import { FORMAT_VERSION, MAX_ORIGIN_BYTES, contentFlags, encodeOps } from './codec.js'
import { OpCodecError } from './errors.js'
import type { Op } from './types.js'

/** The canonical bytes of an op alone, without its proof: what `opDigest` hashes. */
export function signingPayload (op: Op): Uint8Array {
  return encodeOps([{ key: op.key, value: op.value, ...(op.type !== undefined ? { type: op.type } : {}), ...(op.expires !== undefined ? { expires: op.expires } : {}), ...(op.seen !== undefined ? { seen: op.seen } : {}), ...(op.refresh === true ? { refresh: true as const } : {}), wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq }])
}

const scratch = { buffer: Buffer.alloc(4096) }

/**
 * `signingPayload(op)` written into a reused buffer and handed to `use`
 * before the next call overwrites it: the same bytes without the allocations,
 * for hashing every op of every batch.
 */
export function withSigningPayload<T> (op: Op, use: (payload: Uint8Array) => T): T {
  const seen = op.seen
  // a seen origin other than the op's own is the second entry of the origins table
  const other = seen !== undefined && seen.origin !== op.origin ? seen.origin : undefined
  if (!op.key.isWellFormed() || !op.origin.isWellFormed() || op.key.length === 0 || op.origin.length === 0 ||
    (other !== undefined && (other.length === 0 || !other.isWellFormed()))) return use(signingPayload(op)) // throws the encoder's error
  const originBytes = Buffer.byteLength(op.origin)
  const otherBytes = other === undefined ? 0 : Buffer.byteLength(other)
  const keyBytes = Buffer.byteLength(op.key)
  const size = 1 + 3 * MAX_VARINT_BYTES + originBytes + otherBytes + keyBytes + (op.value?.length ?? 0) + 13 * MAX_VARINT_BYTES
  if (scratch.buffer.length < size) scratch.buffer = Buffer.alloc(Math.max(size, scratch.buffer.length * 2))
  const out = scratch.buffer
  let pos = 0
  const varint = (value: number): void => {
    if (!Number.isSafeInteger(value) || value < 0) throw new OpCodecError(`${value} is not a safe non-negative integer`)
    for (; value >= 0x80; value = Math.floor(value / 128)) out[pos++] = (value % 128) | 0x80
    out[pos++] = value
  }
  if (Math.max(originBytes, otherBytes) > MAX_ORIGIN_BYTES) throw new OpCodecError(`origin is ${Math.max(originBytes, otherBytes)} bytes, limit is ${MAX_ORIGIN_BYTES}`)
  if (op.seq < 1) throw new OpCodecError(`seq ${op.seq} is below 1`)
  out[pos++] = FORMAT_VERSION
  varint(other === undefined ? 1 : 2)
  varint(originBytes)
  pos += out.write(op.origin, pos, 'utf8')
  if (other !== undefined) {
    varint(otherBytes)
    pos += out.write(other, pos, 'utf8')
  }
  varint(0) // no proofs
  varint(1) // one op
  out[pos++] = contentFlags(op)
  varint(keyBytes)
  pos += out.write(op.key, pos, 'utf8')
  if (op.value !== null) {
    varint(op.value.length)
    out.set(op.value, pos)
    pos += op.value.length
  }
  if (op.expires !== undefined) varint(op.expires)
  if (seen !== undefined) {
    varint(seen.wall)
    varint(seen.logical)
    varint(other === undefined ? 0 : 1)
  }
  varint(op.wall)
  varint(op.logical)
  varint(0) // origin index
  varint(op.seq)
  return use(out.subarray(0, pos))
}
