import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { EMPTY_ACC, xorInto, xorOfSome } from '../src/marks.js'

const digest = fc.uint8Array({ minLength: 32, maxLength: 32 })
const xorAll = (digests: Uint8Array[]): Uint8Array => digests.reduce((acc, d) => xorInto(acc, d), EMPTY_ACC)
/** The 32-byte vector with bit `i` set alone (bit 0: the first byte's highest). */
const unit = (i: number): Uint8Array => { const v = new Uint8Array(32); v[i >> 3] = 0x80 >> (i & 7); return v }

describe('xorOfSome', () => {
  it('finds the XOR of any subset of the digests, whichever they are (duplicates and dependent ones too)', () => {
    fc.assert(fc.property(fc.array(digest, { minLength: 1, maxLength: 32 }), fc.array(fc.boolean(), { minLength: 32, maxLength: 32 }), (digests, picks) => {
      // one digest the XOR of two others: the basis leaves it out, and subsets through it still count
      const all = digests.length >= 2 ? [...digests, xorInto(digests[0] as Uint8Array, digests[1] as Uint8Array)] : digests
      const chosen = all.filter((_, i) => picks[i % picks.length] === true)
      assert.equal(xorOfSome(xorAll(chosen), all), true)
    }), { numRuns: 300 })
  })

  it('finds no other target: a random one is the XOR of some of 32 random digests once in 2^224', () => {
    fc.assert(fc.property(fc.array(digest, { minLength: 1, maxLength: 32 }), digest, (digests, target) => {
      fc.pre(!target.every(b => b === 0))
      assert.equal(xorOfSome(target, digests), false)
    }), { numRuns: 300 })
  })

  it('works bit by bit: the unit vectors of bits 0–12 and 250–255 span targets made of those bits alone', () => {
    const bits = [...Array.from({ length: 13 }, (_, i) => i), 250, 251, 252, 253, 254, 255]
    const units = bits.map(unit)
    assert.equal(xorOfSome(xorAll([unit(0), unit(12), unit(255)]), units), true)
    assert.equal(xorOfSome(unit(13), units), false)
    assert.equal(xorOfSome(xorInto(unit(3), unit(100)), units), false)
    // a basis whose vectors share bits: reduced in order, pivots stay apart
    const mixed = [xorAll([unit(0), unit(1)]), xorAll([unit(0), unit(2)]), unit(1)]
    assert.equal(xorOfSome(unit(2), mixed), true)
    assert.equal(xorOfSome(unit(3), mixed), false)
  })
})
