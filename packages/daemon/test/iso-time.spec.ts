/** isoTime is toISOString without V8's date cache (and so without ICU's time zone): the same text for every instant. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { isoTime } from '../src/iso-time.js'

describe('isoTime', () => {
  it('writes what toISOString writes, for any millisecond from year 0 to 9999 and beyond', () => {
    for (const ms of [0, -1, 1, 951_782_400_000, 4_107_542_399_999, -62_167_219_200_000, 253_402_300_799_999, 253_402_300_800_000, -62_167_219_200_001]) {
      assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms))
    }
    fc.assert(fc.property(fc.integer({ min: -70_000_000_000_000, max: 260_000_000_000_000 }), ms => isoTime(ms) === new Date(ms).toISOString()), { numRuns: 20_000 })
  })
})
