/**
 * Value encoding between the wire (strings) and storage (bytes).
 */
import type { ValueEncoding } from './methods.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })

export class InvalidBase64Error extends Error {
  static override name = 'InvalidBase64Error'
  override name = 'InvalidBase64Error'
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Wire value → bytes. Rejects malformed base64 rather than guessing. */
export function decodeValue (value: string, encoding: ValueEncoding = 'utf8'): Uint8Array {
  if (encoding === 'utf8') return Buffer.from(value, 'utf8')
  if (!BASE64.test(value)) throw new InvalidBase64Error('value is not valid base64 (RFC 4648, with padding)')
  return Buffer.from(value, 'base64')
}

/**
 * Bytes → wire value. UTF-8 text stays a string; bytes that are not valid
 * UTF-8, or any bytes when the caller asks for base64, travel as base64.
 */
export function encodeValue (bytes: Uint8Array, encoding: ValueEncoding = 'utf8'): { value: string, encoding?: 'base64' } {
  if (encoding === 'utf8') {
    try {
      return { value: utf8.decode(bytes) }
    } catch {}
  }
  return { value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), encoding: 'base64' }
}
