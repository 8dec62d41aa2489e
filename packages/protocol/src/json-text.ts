/**
 * JSON text kept as written. `JSON.parse` reads every number as a double
 * (`1e400` becomes Infinity, written back as `null`; `12345678901234567891`
 * is rounded; `-0` prints as `0`) and undoes escapes, so a client that must
 * not change a json value works on its text: these functions move only the
 * whitespace between tokens. Each takes text that parses (see `parseJson`).
 */
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

/**
 * A json value's text, `parsed` from it, as kv_put sends it: as JSON when
 * that is the same text (every daemon takes that), else as its bytes in
 * base64, stored as they are (`1e400`, `12345678901234567891`, `-0`, `1.50`,
 * an escape, whitespace).
 */
export function jsonPutValue (text: string, parsed: unknown): { value: unknown, encoding?: 'base64', type: 'json' } {
  return JSON.stringify(parsed) === text ? { value: parsed, type: 'json' } : { value: Buffer.from(text, 'utf8').toString('base64'), encoding: 'base64', type: 'json' }
}
