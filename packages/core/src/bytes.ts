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

/**
 * Reads a binary format. Each `what` names the field for error messages,
 * within `scope` when one is set ("op 12 key"); messages are built only when
 * a read fails (a decoder reads millions of fields a second).
 */
export class ByteReader {
  private readonly bytes: Uint8Array
  private pos = 0
  /** The item being read, e.g. "op": fields are named "op <index> <what>". */
  private scopeName = ''
  private scopeIndex = 0

  constructor (bytes: Uint8Array) {
    this.bytes = bytes
  }

  /** Names the fields read from now on "`name` `index` `what`"; `scope('')` ends that. */
  scope (name: string, index = 0): void {
    this.scopeName = name
    this.scopeIndex = index
  }

  /** `what`, within the current scope. */
  named (what: string): string {
    return this.scopeName === '' ? what : `${this.scopeName} ${this.scopeIndex} ${what}`
  }

  atEnd (): boolean {
    return this.pos === this.bytes.length
  }

  remaining (): number {
    return this.bytes.length - this.pos
  }

  byte (what: string): number {
    const byte = this.bytes[this.pos++]
    if (byte === undefined) throw new OpCodecError(`truncated: ${this.named(what)} is missing`)
    return byte
  }

  varint (what: string, suffix = ''): number {
    let value = 0
    for (let i = 0, scale = 1; i < MAX_VARINT_BYTES; i++, scale *= 128) {
      const byte = this.bytes[this.pos++]
      if (byte === undefined) throw new OpCodecError(`truncated: ${this.named(what)}${suffix} is missing`)
      // Any sum past 2^53 rounds to at least 2^53, so this check cannot be fooled by rounding.
      value += (byte & 0x7f) * scale
      if (value > Number.MAX_SAFE_INTEGER) throw new OpCodecError(`${this.named(what)}${suffix} is above 2^53 - 1`)
      if (byte < 0x80) {
        if (byte === 0 && i > 0) throw new OpCodecError(`${this.named(what)}${suffix} is a non-minimal varint`)
        return value
      }
    }
    throw new OpCodecError(`${this.named(what)}${suffix} is a varint longer than ${MAX_VARINT_BYTES} bytes`)
  }

  /** Exactly `length` bytes, as a view into the input. */
  fixed (what: string, length: number): Uint8Array {
    if (length > this.remaining()) throw new OpCodecError(`truncated: ${this.named(what)} needs ${length} bytes, ${this.remaining()} left`)
    return this.bytes.subarray(this.pos, (this.pos += length))
  }

  /** A length-prefixed run of bytes, as a view into the input. */
  chunk (what: string, maxBytes: number): Uint8Array {
    const length = this.varint(what, ' length')
    if (length > maxBytes) throw new OpCodecError(`${this.named(what)} is ${length} bytes, limit is ${maxBytes}`)
    if (length > this.remaining()) throw new OpCodecError(`truncated: ${this.named(what)} needs ${length} bytes, ${this.remaining()} left`)
    return this.bytes.subarray(this.pos, (this.pos += length))
  }

  text (what: string, maxBytes: number): string {
    const bytes = this.chunk(what, maxBytes)
    try {
      return decoder.decode(bytes)
    } catch {
      throw new OpCodecError(`${this.named(what)} is not valid UTF-8`)
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
    if (!Number.isSafeInteger(value) || value < 0) throw new OpCodecError(`${value} is not a safe non-negative integer`)
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
