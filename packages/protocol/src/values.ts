/**
 * Value encoding between the wire (strings) and storage (bytes).
 */
import { jsonDepth } from './framing.js'
import { JsonText } from './json-text.js'
import { MAX_JSON_VALUE_DEPTH } from './limits.js'
import type { ValueEncoding } from './methods.js'
import type { WireValueType } from './results.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })

export class InvalidBase64Error extends Error {
  static override name = 'InvalidBase64Error'
  override name = 'InvalidBase64Error'
}

/** JSON that does not parse, with the offset (UTF-16 units) where the parser stopped. */
export class InvalidJsonError extends Error {
  static override name = 'InvalidJsonError'
  override name = 'InvalidJsonError'
  readonly position: number

  constructor (message: string, position: number) {
    super(message)
    this.position = position
  }
}

/** `JSON.parse`, whose errors say where it stopped on every Node version. */
export function parseJson (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    const message = (err as Error).message
    const position = errorPosition(text, message)
    throw new InvalidJsonError(`not valid JSON at position ${position}: ${message}`, position)
  }
}

const unexpectedToken = (text: string): boolean => {
  try {
    JSON.parse(text)
    return false
  } catch (err) {
    return (err as Error).message.startsWith('Unexpected token')
  }
}

/**
 * Where `JSON.parse` stopped: its message says, except at the end of the
 * input and, on Node 20, for an unexpected token, found as the shortest
 * prefix that fails on it (prefixes before it are cut short, never wrong).
 */
function errorPosition (text: string, message: string): number {
  const at = /at position (\d+)/.exec(message)?.[1]
  if (at !== undefined) return Number(at)
  if (!message.startsWith('Unexpected token')) return text.length
  let low = 0
  let high = text.length - 1
  while (low < high) {
    const mid = (low + high) >> 1
    if (unexpectedToken(text.slice(0, mid + 1))) high = mid
    else low = mid + 1
  }
  return low
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

/**
 * Stored bytes of a value of `type` → its wire form: json as the JSON value
 * itself (or base64, should a peer have written json that does not parse,
 * or one nested deeper than `MAX_JSON_VALUE_DEPTH`: replicas take whatever a
 * member signed), binary always as base64, text as
 * `encodeValue` gives it.
 */
export function encodeTypedValue (bytes: Uint8Array, type: WireValueType, encoding?: ValueEncoding): { value: unknown, encoding?: 'base64', type: WireValueType } {
  if (type === 'json' && encoding !== 'base64') {
    try {
      const text = utf8.decode(bytes)
      // too deep, it would parse but throw as its answer is encoded (any member's library may write one)
      if (jsonDepth(text) <= MAX_JSON_VALUE_DEPTH) return { value: JSON.parse(text), type }
    } catch {}
  }
  // as a string, json that does not parse would read as a JSON string
  return { ...encodeValue(bytes, type === 'text' ? encoding : 'base64'), type }
}

/** A wire value's type: as given, else what a daemon that predates types meant (base64 was binary, the rest text). */
export function typeOfEntry (entry: { encoding?: 'base64', type?: WireValueType }): WireValueType {
  return entry.type ?? (entry.encoding === 'base64' ? 'binary' : 'text')
}

/** A wire value as one string: text as is, json as compact JSON text (a `JsonText` as its text), binary as its base64. */
export function valueText (entry: { value?: unknown, encoding?: 'base64', type?: WireValueType }): string {
  if (entry.value instanceof JsonText) return entry.value.text
  if (typeof entry.value === 'string' && (entry.type !== 'json' || entry.encoding === 'base64')) return entry.value
  return JSON.stringify(entry.value) ?? ''
}

/**
 * Where schemas live: the JSON Schema for the keys under `<prefix>` is the
 * json value of the key `_schema/<prefix>`, an ordinary replicated key.
 */
export const SCHEMA_KEY_PREFIX = '_schema/'
