/**
 * Fuzzing NDJSON framing, 10,000 cases per property: whatever bytes arrive,
 * split however, LineDecoder throws nothing but FrameTooLargeError and
 * parseFrame nothing but SyntaxError or JsonTooDeepError, and the depth check
 * cannot be fooled into letting a deeper document through.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { FrameTooLargeError, JsonTooDeepError, LineDecoder, MAX_JSON_DEPTH, jsonDepth, parseFrame } from '../src/index.js'

const RUNS = 10_000

/** Bytes rich in what framing and JSON care about: newlines, CRs, brackets, quotes, escapes, partial UTF-8. */
const byte = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0x0a, 0x0d, 0x5b, 0x5d, 0x7b, 0x7d, 0x22, 0x5c, 0x3a, 0x2c, 0x30, 0x61) },
  { weight: 1, arbitrary: fc.constantFrom(0xc3, 0xa9, 0xe6, 0x97, 0xa5, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0x00) },
  { weight: 2, arbitrary: fc.nat(255) }
)
const stream = fc.oneof(
  fc.array(byte, { maxLength: 200 }).map(bytes => Buffer.from(bytes)),
  // text that is nearly JSON: real frames with some bytes changed
  fc.tuple(fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 4 }), fc.array(fc.tuple(fc.nat(), byte), { maxLength: 3 })).map(([values, edits]) => {
    const bytes = Buffer.from(values.map(v => JSON.stringify(v) + '\n').join(''))
    for (const [at, b] of edits) if (bytes.length > 0) bytes[at % bytes.length] = b
    return bytes
  })
)

/** Splits `bytes` at the given points. */
function split (bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map(c => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let start = 0
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point))
    start = point
  }
  return chunks
}

function depthOf (v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf))
  if (v != null && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depthOf))
  return 0
}

/** parseFrame returns a value or throws one of its two documented errors. */
function parsesOrRejects (line: string, maxDepth = MAX_JSON_DEPTH): void {
  try {
    const value = parseFrame(line, maxDepth)
    assert.ok(depthOf(value) <= maxDepth, 'nothing deeper than the limit gets through')
  } catch (err) {
    if (!(err instanceof SyntaxError) && !(err instanceof JsonTooDeepError)) throw err
  }
}

describe('fuzzing NDJSON framing', () => {
  it(`splits ${RUNS} random byte streams into the same lines however they are chunked`, () => {
    fc.assert(fc.property(stream, fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
      const decoder = new LineDecoder()
      const lines = split(bytes, cuts).flatMap(chunk => decoder.push(chunk))
      const rest = decoder.end()
      const parts = [...bytes.toString('latin1').split('\n')]
      const expected = parts.slice(0, -1).map(p => Buffer.from(p, 'latin1').toString('utf8').replace(/\r$/, ''))
      assert.deepEqual(lines, expected)
      const tail = parts.at(-1) as string
      assert.equal(rest, tail === '' ? undefined : Buffer.from(tail, 'latin1').toString('utf8').replace(/\r$/, ''))
      for (const line of [...lines, ...(rest != null ? [rest] : [])]) parsesOrRejects(line)
    }), { numRuns: RUNS, includeErrorInReport: true })
  })

  it(`with a small frame limit, throws only FrameTooLargeError and recovers, for ${RUNS} streams`, () => {
    fc.assert(fc.property(stream, fc.array(fc.nat(), { maxLength: 10 }), fc.integer({ min: 1, max: 40 }), (bytes, cuts, limit) => {
      const decoder = new LineDecoder(limit)
      for (const chunk of split(bytes, cuts)) {
        try {
          for (const line of decoder.push(chunk)) {
            assert.ok(line.length <= limit, 'no line longer than the limit (each byte decodes to at most one UTF-16 unit)')
            parsesOrRejects(line)
          }
        } catch (err) {
          if (!(err instanceof FrameTooLargeError)) throw err
          assert.equal(decoder.pending, 0, 'the decoder drops the oversized frame')
        }
        assert.ok(decoder.pending <= limit)
      }
    }), { numRuns: RUNS, includeErrorInReport: true })
  })

  it(`measures the same depth as a character-by-character scan, for ${RUNS} near-JSON texts`, () => {
    const token = fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"', '\\\\', ':', ',', '1', '"a"', '"[', ']"', ' ', 'null', '"\\\\"', 'é')
    fc.assert(fc.property(fc.array(token, { maxLength: 80 }).map(tokens => tokens.join('')), text => {
      assert.equal(jsonDepth(text), scannedDepth(text), text)
    }), { numRuns: RUNS, includeErrorInReport: true })
  })

  it(`never measures a document shallower than JSON.parse builds it, for ${RUNS} near-JSON texts`, () => {
    const token = fc.constantFrom('[', ']', '{', '}', '"', '\\', '\\"', '\\\\', ':', ',', '1', '"a"', '"[', ']"', ' ', 'null')
    const text = fc.oneof(
      fc.array(token, { maxLength: 60 }).map(tokens => tokens.join('')),
      fc.jsonValue({ maxDepth: 8 }).map(v => JSON.stringify(v))
    )
    fc.assert(fc.property(text, fc.integer({ min: 0, max: 8 }), (candidate, maxDepth) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(candidate)
      } catch {
        return
      }
      assert.ok(jsonDepth(candidate) >= depthOf(parsed), `${candidate}: measured ${jsonDepth(candidate)}, built ${depthOf(parsed)}`)
      parsesOrRejects(candidate, maxDepth)
    }), { numRuns: RUNS, includeErrorInReport: true })
  })

  it(`keeps prototype keys as plain data in ${RUNS} random documents`, () => {
    const key = fc.constantFrom('__proto__', 'constructor', 'prototype', 'a')
    const doc = fc.letrec(tie => ({
      node: fc.oneof({ depthSize: 'small' }, fc.constant('1'), fc.array(fc.tuple(key, tie('node')), { maxLength: 3 })
        .map(entries => '{' + entries.map(([k, v]) => `"${k}":${v as string}`).join(',') + '}'))
    })).node
    fc.assert(fc.property(doc, text => {
      const parsed = parseFrame(text)
      const walk = (v: unknown): void => {
        if (v == null || typeof v !== 'object') return
        assert.equal(Object.getPrototypeOf(v), Object.prototype)
        for (const child of Object.values(v)) walk(child)
      }
      walk(parsed)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
      assert.equal(Object.getOwnPropertyNames(Object.prototype).length, prototypeNames)
    }), { numRuns: RUNS, includeErrorInReport: true })
  })
})

const prototypeNames = Object.getOwnPropertyNames(Object.prototype).length

/** The reference: one character at a time, a backslash skipping the next one inside a string. */
function scannedDepth (text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') {
      inString = true
    } else if (c === '{' || c === '[') {
      max = Math.max(max, ++depth)
    } else if (c === '}' || c === ']') {
      depth--
    }
  }
  return max
}
