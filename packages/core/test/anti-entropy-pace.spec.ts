/**
 * Anti-entropy's pace: doubling after pulls that bring nothing, never past
 * the bound, back to the interval at once when stirred (and the planned pull
 * moved forward only if that makes it sooner).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AntiEntropyPace, lacks, maxIntervalFor } from '../src/index.js'

describe('AntiEntropyPace', () => {
  it('doubles the wait after each pull that brings nothing, up to the bound, and every wait stays within it', () => {
    const pace = new AntiEntropyPace({ intervalMs: 5_000 })
    assert.equal(pace.maxIntervalMs, 60_000)
    const means: number[] = []
    for (let i = 0; i < 8; i++) {
      means.push(pace.currentMs)
      for (const random of [0, 0.5, 0.999]) assert.ok(pace.next(0, random) <= 60_000)
      pace.quiet()
    }
    assert.deepEqual(means, [5_000, 10_000, 20_000, 40_000, 60_000, 60_000, 60_000, 60_000])
    assert.equal(pace.next(0, 0), 30_000)
  })

  it('comes back to the interval when stirred, moving the planned pull only forward', () => {
    const pace = new AntiEntropyPace({ intervalMs: 1_000, maxIntervalMs: 8_000 })
    for (let i = 0; i < 4; i++) pace.quiet()
    assert.equal(pace.next(0, 0.5), 8_000)
    assert.equal(pace.stir(100, 0.5), 1_000, 'replanned 1 s from now, sooner than 8 s')
    assert.equal(pace.due, 1_100)
    assert.equal(pace.stir(200, 0.5), undefined, 'already at the interval: nothing to move')
    pace.quiet()
    assert.equal(pace.stir(1_090, 0.99), undefined, 'a replanned pull later than the planned one is not taken')
    assert.equal(pace.due, 1_100)
  })

  it('bounds: 12 intervals, at most 60 s, never under the interval; a bound under the interval is the interval', () => {
    assert.deepEqual([100, 1_000, 5_000, 60_000, 100_000_000].map(maxIntervalFor), [1_200, 12_000, 60_000, 60_000, 100_000_000])
    assert.equal(new AntiEntropyPace({ intervalMs: 5_000, maxIntervalMs: 1_000 }).maxIntervalMs, 5_000)
  })

  it('lacks: whether a vector names an op past what this node holds', () => {
    assert.equal(lacks({ a: 3 }, { a: 3 }), false)
    assert.equal(lacks({ a: 3 }, { a: 2, b: 0 }), false)
    assert.equal(lacks({ a: 3 }, { a: 4 }), true)
    assert.equal(lacks({ a: 3 }, { b: 1 }), true)
    assert.equal(lacks({}, { __proto__: 1 } as unknown as Record<string, number>), false, 'a parsed __proto__ key is no origin')
  })
})
