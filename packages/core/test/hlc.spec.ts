import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HybridLogicalClock, type Stamp } from '../src/index.js'

/** A physical clock the test sets by hand. */
function manualClock (start: number): { now: () => number, set: (ms: number) => void } {
  let ms = start
  return { now: () => ms, set: value => { ms = value } }
}

describe('HybridLogicalClock', () => {
  it('follows physical time when it moves forward', () => {
    const time = manualClock(1000)
    const hlc = new HybridLogicalClock({ now: time.now })
    assert.deepEqual(hlc.now(), { wall: 1000, logical: 0 })
    time.set(1005)
    assert.deepEqual(hlc.now(), { wall: 1005, logical: 0 })
  })

  it('counts events within one millisecond', () => {
    const hlc = new HybridLogicalClock({ now: () => 1000 })
    assert.deepEqual([hlc.now(), hlc.now(), hlc.now()].map(s => s.logical), [0, 1, 2])
  })

  it('never goes backwards when the physical clock does', () => {
    const time = manualClock(5000)
    const hlc = new HybridLogicalClock({ now: time.now })
    const stamps: Stamp[] = [hlc.now()]
    for (const ms of [4000, 4500, 5000, 1, 5001, 3000]) {
      time.set(ms)
      stamps.push(hlc.now())
    }
    assert.deepEqual(stamps, [
      { wall: 5000, logical: 0 }, { wall: 5000, logical: 1 }, { wall: 5000, logical: 2 },
      { wall: 5000, logical: 3 }, { wall: 5000, logical: 4 }, { wall: 5001, logical: 0 }, { wall: 5001, logical: 1 }
    ])
  })

  it('starts above its initial stamp, as after a restart with a slow clock', () => {
    const hlc = new HybridLogicalClock({ now: () => 10, initial: { wall: 900, logical: 7 } })
    assert.deepEqual(hlc.peek(), { wall: 900, logical: 7 })
    assert.deepEqual(hlc.now(), { wall: 900, logical: 8 })
  })

  it('defaults to Date.now', () => {
    const before = Date.now()
    const { wall } = new HybridLogicalClock().now()
    assert.ok(wall >= before && wall <= Date.now())
  })

  describe('update', () => {
    it('jumps to a remote stamp ahead of physical time and bumps its counter', () => {
      const hlc = new HybridLogicalClock({ now: () => 1000 })
      assert.deepEqual(hlc.update({ wall: 2000, logical: 4 }), { wall: 2000, logical: 5 })
      assert.deepEqual(hlc.now(), { wall: 2000, logical: 6 })
    })

    it('ignores a remote stamp behind its own, still advancing', () => {
      const hlc = new HybridLogicalClock({ now: () => 1000, initial: { wall: 3000, logical: 2 } })
      assert.deepEqual(hlc.update({ wall: 2000, logical: 9 }), { wall: 3000, logical: 3 })
    })

    it('takes the higher counter when the walls are equal', () => {
      const hlc = new HybridLogicalClock({ now: () => 1000, initial: { wall: 3000, logical: 2 } })
      assert.deepEqual(hlc.update({ wall: 3000, logical: 8 }), { wall: 3000, logical: 9 })
      assert.deepEqual(hlc.update({ wall: 3000, logical: 1 }), { wall: 3000, logical: 10 })
    })

    it('uses physical time when it is ahead of both', () => {
      const hlc = new HybridLogicalClock({ now: () => 5000, initial: { wall: 3000, logical: 2 } })
      assert.deepEqual(hlc.update({ wall: 4000, logical: 8 }), { wall: 5000, logical: 0 })
    })
  })

  it('peek does not advance', () => {
    const hlc = new HybridLogicalClock({ now: () => 1000 })
    hlc.now()
    assert.deepEqual(hlc.peek(), hlc.peek())
    assert.deepEqual(hlc.now(), { wall: 1000, logical: 1 })
  })
})
