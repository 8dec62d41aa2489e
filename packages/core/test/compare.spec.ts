import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { compareUtf8 } from '../src/compare.js'
import { beats, compareVersions, headOf, isNewer, type Op, type Version } from '../src/index.js'

const versionArb: fc.Arbitrary<Version> = fc.record({
  wall: fc.integer({ min: 0, max: 2 }),
  logical: fc.integer({ min: 0, max: 2 }),
  origin: fc.constantFrom('a', 'b', 'B'),
  seq: fc.integer({ min: 1, max: 2 })
})

describe('compareVersions', () => {
  it('orders by wall, then logical, then origin, then seq', () => {
    const base = { wall: 5, logical: 5, origin: 'm', seq: 5 }
    for (const change of [{ wall: 6, logical: 0 }, { logical: 6, origin: 'a' }, { origin: 'n', seq: 1 }, { seq: 6 }]) {
      assert.ok(isNewer({ ...base, ...change }, base), JSON.stringify(change))
      assert.ok(!isNewer(base, { ...base, ...change }), JSON.stringify(change))
    }
    assert.ok(!isNewer(base, { ...base }))
  })

  it('is a total order: antisymmetric, transitive, zero only for equal versions', () => {
    fc.assert(fc.property(versionArb, versionArb, versionArb, (a, b, c) => {
      assert.ok(Math.sign(compareVersions(a, b)) === -Math.sign(compareVersions(b, a)))
      assert.equal(compareVersions(a, b) === 0, JSON.stringify(a) === JSON.stringify(b))
      if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) assert.ok(compareVersions(a, c) <= 0)
    }), { numRuns: 1000 })
  })
})

describe('compareUtf8', () => {
  it('orders strings as their UTF-8 bytes do', () => {
    const text = fc.string({ unit: 'binary', maxLength: 6 })
    fc.assert(fc.property(text, text, (a, b) => {
      assert.equal(Math.sign(compareUtf8(a, b)), Buffer.compare(Buffer.from(a), Buffer.from(b)))
    }), { numRuns: 2000 })
  })

  it('puts supplementary characters above U+E000–U+FFFF, unlike JS string order', () => {
    assert.ok('\u{1F600}' < '\u{E000}')
    assert.ok(compareUtf8('\u{1F600}', '\u{E000}') > 0)
  })
})

describe('isNewer', () => {
  it('ranks two different ops with one version by their bytes, the same way in either order', () => {
    const base = { wall: 5, logical: 0, origin: 'o', seq: 3 }
    const a = { ...base, key: 'k', value: Buffer.from('a'), sig: Buffer.from([1]) }
    const b = { ...base, key: 'k', value: Buffer.from('b'), sig: Buffer.from([2]) }
    assert.equal(isNewer(b, a), true)
    assert.equal(isNewer(a, b), false)
    assert.equal(isNewer(a, { ...a }), false, 'an op does not beat itself')
    assert.equal(isNewer({ ...base, value: Buffer.from('x') }, { ...base, value: null }), true, 'unsigned: by value, a delete lowest')
  })
})

describe('beats', () => {
  const opArb: fc.Arbitrary<Op> = fc.record({
    version: versionArb,
    value: fc.option(fc.constantFrom('x', 'y'), { nil: null }),
    sig: fc.option(fc.constantFrom(1, 2), { nil: null })
  }).map(({ version, value, sig }) => ({
    key: 'k', ...version, value: value === null ? null : Buffer.from(value),
    ...(sig === null ? {} : { proof: { sig: Buffer.from([sig]), first: version.seq, digests: new Uint8Array(0) } })
  }))

  it('ranks an op against a row\'s head as against the whole row, and reads the row only when the value decides', () => {
    fc.assert(fc.property(opArb, opArb, (a, row) => {
      let reads = 0
      const result = beats(a, headOf(row), () => { reads++; return row })
      assert.equal(result, isNewer(a, row))
      const tied = compareVersions(a, row) === 0 && Buffer.compare(Buffer.from(a.proof?.sig ?? []), Buffer.from(row.proof?.sig ?? [])) === 0 && (a.proof == null) === (row.proof == null)
      assert.equal(reads, tied ? 1 : 0)
    }), { numRuns: 2000 })
  })
})
