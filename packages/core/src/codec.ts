/**
 * The binary form of an op batch, as sent over gossip and the sync stream.
 *
 * Layout (varint = unsigned LEB128, at most 2^53 - 1):
 *
 *   version    1 byte, = 1
 *   origins    varint count, then per origin: varint length + UTF-8
 *   ops        varint count, then per op:
 *     flags    1 byte; bit 0 = tombstone, bit 1 = signed, other bits must be 0
 *     key      varint length + UTF-8
 *     value    varint length + bytes (absent for a tombstone)
 *     wall, logical, origin index, seq    4 varints
 *     sig      varint length + bytes (only when signed; at most 128)
 *
 * A batch from one origin names it once, so the overhead per op is a dozen
 * bytes or so on top of the key and value.
 */
import { OpCodecError } from './errors.js'
import type { Op } from './types.js'

const FORMAT_VERSION = 1
const TOMBSTONE = 0b1
const SIGNED = 0b10
const MAX_SIG_BYTES = 128
const MAX_ORIGIN_BYTES = 128
/** 8 bytes of 7 bits hold 56 bits, enough for any safe integer. */
const MAX_VARINT_BYTES = 8

export interface DecodeLimits {
  /** Reject a batch of more ops than this. Default: no limit beyond the buffer. */
  maxOps?: number
  /** Reject a key longer than this many UTF-8 bytes. Default: 1024. */
  maxKeyBytes?: number
  /** Reject a value longer than this many bytes. Default: 1 MiB. */
  maxValueBytes?: number
}

const encoder = new TextEncoder()
// ignoreBOM keeps a leading U+FEFF in a key instead of silently dropping it.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function check (ok: boolean, message: string): asserts ok {
  if (!ok) throw new OpCodecError(message)
}

/**
 * Encodes ops. Throws `OpCodecError` for an op that would not decode to
 * itself: an empty or malformed (lone surrogate) key or origin, an origin over
 * 128 bytes, a seq below 1, or a number that is not a safe non-negative
 * integer. Size limits are the receiver's to enforce.
 */
export function encodeOps (ops: Op[]): Uint8Array {
  const origins = new Map<string, number>()
  for (const op of ops) if (!origins.has(op.origin)) origins.set(op.origin, origins.size)
  const out = new ByteWriter()
  out.byte(FORMAT_VERSION)
  out.varint(origins.size)
  for (const origin of origins.keys()) {
    check(origin.length > 0 && origin.isWellFormed(), `origin ${JSON.stringify(origin)} is empty or not well-formed`)
    const bytes = encoder.encode(origin)
    check(bytes.length <= MAX_ORIGIN_BYTES, `origin is ${bytes.length} bytes, limit is ${MAX_ORIGIN_BYTES}`)
    out.bytes(bytes)
  }
  out.varint(ops.length)
  for (const op of ops) {
    check(op.key.length > 0 && op.key.isWellFormed(), `key ${JSON.stringify(op.key)} is empty or not well-formed`)
    check(op.seq >= 1, `seq ${op.seq} is below 1`)
    out.byte((op.value === null ? TOMBSTONE : 0) | (op.sig != null ? SIGNED : 0))
    out.bytes(encoder.encode(op.key))
    if (op.value !== null) out.bytes(op.value)
    for (const n of [op.wall, op.logical, origins.get(op.origin) ?? 0, op.seq]) out.varint(n)
    if (op.sig != null) out.bytes(op.sig)
  }
  return out.finish()
}

/** The bytes an origin signs for an op: the op alone, encoded without its signature. */
export function signingPayload (op: Op): Uint8Array {
  return encodeOps([{ key: op.key, value: op.value, wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq }])
}

/** Decodes and validates a batch. Throws `OpCodecError`, and nothing else, on any malformed input. */
export function decodeOps (bytes: Uint8Array, limits: DecodeLimits = {}): Op[] {
  const maxOps = limits.maxOps ?? Infinity
  const maxKeyBytes = limits.maxKeyBytes ?? 1024
  const maxValueBytes = limits.maxValueBytes ?? 1024 * 1024
  const input = new ByteReader(bytes)
  const version = input.byte('format version')
  check(version === FORMAT_VERSION, `unknown format version ${version}`)
  const origins: string[] = []
  const originCount = input.varint('origin count')
  for (let i = 0; i < originCount; i++) {
    const origin = input.text(`origin ${i}`, MAX_ORIGIN_BYTES)
    check(origin.length > 0, `origin ${i} is empty`)
    origins.push(origin)
  }
  const opCount = input.varint('op count')
  check(opCount <= maxOps, `batch has ${opCount} ops, limit is ${maxOps}`)
  const ops: Op[] = []
  for (let i = 0; i < opCount; i++) ops.push(readOp(input, origins, `op ${i}`, maxKeyBytes, maxValueBytes))
  check(input.atEnd(), `${input.remaining()} trailing bytes after the last op`)
  return ops
}

function readOp (input: ByteReader, origins: string[], what: string, maxKeyBytes: number, maxValueBytes: number): Op {
  const flags = input.byte(`${what} flags`)
  check((flags & ~(TOMBSTONE | SIGNED)) === 0, `${what} has unknown flags 0x${flags.toString(16)}`)
  const key = input.text(`${what} key`, maxKeyBytes)
  check(key.length > 0, `${what} key is empty`)
  // A copy, so the op does not pin (or change with) the caller's receive buffer.
  const value = (flags & TOMBSTONE) !== 0 ? null : new Uint8Array(input.chunk(`${what} value`, maxValueBytes))
  const wall = input.varint(`${what} wall`)
  const logical = input.varint(`${what} logical`)
  const origin = origins[input.varint(`${what} origin index`)]
  check(origin !== undefined, `${what} origin index is out of range (${origins.length} origins)`)
  const seq = input.varint(`${what} seq`)
  check(seq >= 1, `${what} seq is 0`)
  if ((flags & SIGNED) === 0) return { key, value, wall, logical, origin, seq }
  return { key, value, wall, logical, origin, seq, sig: new Uint8Array(input.chunk(`${what} sig`, MAX_SIG_BYTES)) }
}

class ByteReader {
  private readonly bytes: Uint8Array
  private pos = 0

  constructor (bytes: Uint8Array) {
    this.bytes = bytes
  }

  atEnd (): boolean {
    return this.pos === this.bytes.length
  }

  remaining (): number {
    return this.bytes.length - this.pos
  }

  byte (what: string): number {
    const byte = this.bytes[this.pos++]
    check(byte !== undefined, `truncated: ${what} is missing`)
    return byte
  }

  varint (what: string): number {
    let value = 0
    for (let i = 0, scale = 1; i < MAX_VARINT_BYTES; i++, scale *= 128) {
      const byte = this.byte(what)
      // Any sum past 2^53 rounds to at least 2^53, so this check cannot be fooled by rounding.
      value += (byte & 0x7f) * scale
      check(value <= Number.MAX_SAFE_INTEGER, `${what} is above 2^53 - 1`)
      if (byte < 0x80) {
        check(byte !== 0 || i === 0, `${what} is a non-minimal varint`)
        return value
      }
    }
    throw new OpCodecError(`${what} is a varint longer than ${MAX_VARINT_BYTES} bytes`)
  }

  /** A length-prefixed run of bytes, as a view into the input. */
  chunk (what: string, maxBytes: number): Uint8Array {
    const length = this.varint(`${what} length`)
    check(length <= maxBytes, `${what} is ${length} bytes, limit is ${maxBytes}`)
    check(length <= this.remaining(), `truncated: ${what} needs ${length} bytes, ${this.remaining()} left`)
    return this.bytes.subarray(this.pos, (this.pos += length))
  }

  text (what: string, maxBytes: number): string {
    const bytes = this.chunk(what, maxBytes)
    try {
      return decoder.decode(bytes)
    } catch {
      throw new OpCodecError(`${what} is not valid UTF-8`)
    }
  }
}

class ByteWriter {
  private buffer = new Uint8Array(256)
  private pos = 0

  byte (value: number): void {
    this.reserve(1)
    this.buffer[this.pos++] = value
  }

  varint (value: number): void {
    check(Number.isSafeInteger(value) && value >= 0, `${value} is not a safe non-negative integer`)
    this.reserve(MAX_VARINT_BYTES)
    // Division, not shifts: JS bitwise operators truncate to 32 bits.
    for (; value >= 0x80; value = Math.floor(value / 128)) this.buffer[this.pos++] = (value % 128) | 0x80
    this.buffer[this.pos++] = value
  }

  bytes (bytes: Uint8Array): void {
    this.varint(bytes.length)
    this.reserve(bytes.length)
    this.buffer.set(bytes, this.pos)
    this.pos += bytes.length
  }

  finish (): Uint8Array {
    return this.buffer.slice(0, this.pos)
  }

  private reserve (count: number): void {
    if (this.pos + count <= this.buffer.length) return
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.pos + count))
    grown.set(this.buffer.subarray(0, this.pos))
    this.buffer = grown
  }
}
