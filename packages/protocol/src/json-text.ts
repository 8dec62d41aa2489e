/**
 * JSON text kept as written. `JSON.parse` reads every number as a double
 * (`1e400` becomes Infinity, written back as `null`; `12345678901234567891`
 * is rounded; `-0` prints as `0`) and undoes escapes, so a client that must
 * not change a json value works on its text: these functions move only the
 * whitespace between tokens. Each takes text that parses (see `parseJson`).
 */
import { jsonDepth } from './framing.js'
import { MAX_JSON_VALUE_DEPTH } from './limits.js'
import type { WireValueType } from './results.js'

const utf8 = new TextDecoder('utf-8', { fatal: true })
const WHITESPACE = new Set([' ', '\t', '\n', '\r'])

/** The tokens of valid JSON text: strings whole, punctuation alone, a number or literal as one run. */
function * tokens (text: string): Generator<string> {
  let i = 0
  while (i < text.length) {
    const c = text[i] as string
    if (WHITESPACE.has(c)) { i++; continue }
    let end = i + 1
    if (c === '"') {
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1
      end++
    } else if (!'{}[],:'.includes(c)) {
      while (end < text.length && !WHITESPACE.has(text[end] as string) && !'{}[],:'.includes(text[end] as string)) end++
    }
    yield text.slice(i, end)
    i = end
  }
}

/** Valid JSON text without its insignificant whitespace; every token as written. */
export function compactJson (text: string): string {
  return [...tokens(text)].join('')
}

/** Valid JSON text laid out as `JSON.stringify(v, null, indent)` lays it out, every token as written. */
export function prettyJson (text: string, indent = 2): string {
  const out: string[] = []
  let depth = 0
  let opened = false // the last token opened an object or array: an empty one closes on the same line
  const line = (): string => '\n' + ' '.repeat(depth * indent)
  for (const token of tokens(text)) {
    const closing = token === '}' || token === ']'
    if (opened && !closing) out.push(line())
    if (closing) {
      depth--
      if (!opened) out.push(line())
    }
    out.push(token === ',' ? ',' + line() : token === ':' ? ': ' : token)
    opened = token === '{' || token === '['
    if (opened) depth++
  }
  return out.join('')
}

/** A json value's exact text, standing where a parsed value would (see `stringifyExact`). */
export class JsonText {
  readonly text: string

  constructor (text: string) {
    this.text = text
  }
}

/** `JSON.stringify` (compact, or indented by `indent`) of plain data, a `JsonText` in it as its text. */
export function stringifyExact (value: unknown, indent?: number): string {
  const text = exact(value)
  return indent === undefined ? text : prettyJson(text, indent)
}

function exact (value: unknown): string {
  if (value instanceof JsonText) return value.text
  if (Array.isArray(value)) return `[${value.map(v => v === undefined ? 'null' : exact(v)).join(',')}]`
  if (value === null || typeof value !== 'object' || typeof (value as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(value)
  const fields = Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => `${JSON.stringify(k)}:${exact(v)}`)
  return `{${fields.join(',')}}`
}

/**
 * A value asked for as base64 (kv_get, kv_list, kv_history, kv_subscribe with
 * `encoding: "base64"`) in the shape it has when asked for as UTF-8, except
 * that a json value is its exact text (`JsonText`), not the parsed value.
 * What the daemon would send as base64 (binary, bytes that are not UTF-8,
 * json that does not parse or is nested too deep) stays so; with no type (a daemon that predates
 * types, whose values are text) UTF-8 bytes are text, as that daemon sends them.
 */
export function exactValue (value: string, type: WireValueType | undefined): { value: string | JsonText, encoding?: 'base64' } {
  if (type === 'binary') return { value, encoding: 'base64' }
  try {
    const text = utf8.decode(Buffer.from(value, 'base64'))
    if (type !== 'json') return { value: text }
    // as encodeTypedValue: too deep, it stays base64 (and JSON.stringify on it would overflow)
    if (jsonDepth(text) > MAX_JSON_VALUE_DEPTH) throw new RangeError('too deep')
    JSON.parse(text)
    return { value: new JsonText(text) }
  } catch {
    return { value, encoding: 'base64' }
  }
}

/**
 * A json value's text, `parsed` from it, as kv_put sends it: as JSON when
 * that is the same text (every daemon takes that), else as its bytes in
 * base64, stored as they are (`1e400`, `12345678901234567891`, `-0`, `1.50`,
 * an escape, whitespace).
 */
export function jsonPutValue (text: string, parsed: unknown): { value: unknown, encoding?: 'base64', type: 'json' } {
  return JSON.stringify(parsed) === text ? { value: parsed, type: 'json' } : { value: Buffer.from(text, 'utf8').toString('base64'), encoding: 'base64', type: 'json' }
}
