/**
 * Byte-level reading and writing for murmur's binary formats (op batches,
 * attestations): unsigned LEB128 varints of at most 2^53 - 1, length-prefixed
 * chunks, strict UTF-8. Every malformed input throws `OpCodecError`.
 */
import { OpCodecError } from './errors.js'

/** 8 bytes of 7 bits hold 56 bits, enough for any safe integer. */
export const MAX_VARINT_BYTES = 8

// ignoreBOM keeps a leading U+FEFF in a key instead of silently dropping it.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export function check (ok: boolean, message: string): asserts ok {
  if (!ok) throw new OpCodecError(message)
}

export class ByteReader {
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

  /** Exactly `length` bytes, as a view into the input. */
  fixed (what: string, length: number): Uint8Array {
    check(length <= this.remaining(), `truncated: ${what} needs ${length} bytes, ${this.remaining()} left`)
    return this.bytes.subarray(this.pos, (this.pos += length))
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

export class ByteWriter {
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
    this.raw(bytes)
  }

  raw (bytes: Uint8Array): void {
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
