import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { FrameTooLargeError, JsonTooDeepError, LineDecoder, encodeFrame, jsonDepth, parseFrame } from '../src/index.js'

describe('NDJSON framing', () => {
  it('reassembles lines however the byte stream is split, multi-byte characters included', () => {
    fc.assert(fc.property(
      fc.array(fc.string({ unit: 'grapheme' }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (values, cuts) => {
        const bytes = Buffer.from(values.map(v => encodeFrame({ v })).join(''))
        const points = [...new Set(cuts.map(c => c % (bytes.length + 1)))].sort((a, b) => a - b)
        const decoder = new LineDecoder()
        const lines: string[] = []
        let start = 0
        for (const point of [...points, bytes.length]) {
          lines.push(...decoder.push(bytes.subarray(start, point)))
          start = point
        }
        assert.deepEqual(lines.map(l => JSON.parse(l).v), values)
        assert.equal(decoder.end(), undefined)
      }
    ), { numRuns: 300 })
  })

  it('throws FrameTooLargeError once a line outgrows the limit, then recovers', () => {
    const decoder = new LineDecoder(10)
    assert.deepEqual(decoder.push(Buffer.from('0123456789\n')), ['0123456789'])
    assert.throws(() => decoder.push(Buffer.from('01234567890')), FrameTooLargeError)
    assert.equal(decoder.pending, 0)
    assert.deepEqual(decoder.push(Buffer.from('ok\n')), ['ok'])
  })

  it('hands over the whole lines that came before an oversized one in the same chunk', () => {
    const decoder = new LineDecoder(10)
    assert.throws(() => decoder.push(Buffer.from('a\nb\n01234567890')), (err: unknown) => {
      assert.ok(err instanceof FrameTooLargeError)
      assert.deepEqual(err.lines, ['a', 'b'])
      return true
    })
    assert.equal(decoder.pending, 0)
  })

  it('strips a trailing CR and returns the unterminated remainder at the end', () => {
    const decoder = new LineDecoder()
    assert.deepEqual(decoder.push(Buffer.from('a\r\nb')), ['a'])
    assert.equal(decoder.end(), 'b')
  })

  it('measures JSON depth without parsing, ignoring brackets inside strings', () => {
    assert.equal(jsonDepth('1'), 0)
    assert.equal(jsonDepth('{"a":[1,{"b":2}]}'), 3)
    assert.equal(jsonDepth('"[[[[{{{{"'), 0)
    assert.equal(jsonDepth('["\\"[[["]'), 1)
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }), value => {
      const expected = (function depth (v: unknown): number {
        if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depth))
        if (v != null && typeof v === 'object') return 1 + Math.max(0, ...Object.values(v).map(depth))
        return 0
      })(value)
      assert.equal(jsonDepth(JSON.stringify(value)), expected)
    }))
  })

  it('refuses frames nested deeper than the limit, before JSON.parse builds them', () => {
    assert.throws(() => parseFrame('['.repeat(200_000) + ']'.repeat(200_000)), JsonTooDeepError)
    assert.deepEqual(parseFrame('[[1]]', 2), [[1]])
    assert.throws(() => parseFrame('[[[1]]]', 2), JsonTooDeepError)
  })

  it('keeps __proto__ keys as plain data', () => {
    const parsed = parseFrame('{"__proto__": {"polluted": true}}') as Record<string, unknown>
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype)
  })
})
