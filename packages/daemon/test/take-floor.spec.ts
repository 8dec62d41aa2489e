/**
 * The serve's floor on a puller's pace (take-floor.ts), on a test clock: a
 * slow link that takes a little every second goes on however large the
 * frame; a puller that takes less than 64 KiB in 20 s, or nothing, is told
 * to end; what is left under the floor need only be taken whole. The real
 * streams: slow-pulls.spec and paused-pulls.spec.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CHECK_MS, STALL_MS, TAKE_FLOOR_BYTES, TakeFloor } from '../src/sync/take-floor.js'

const KiB = 1024

/** Feeds `floor` one sample every CHECK_MS, `rate(t)` bytes a second taken; returns when (ms) it first said stop, or undefined. */
function run (total: number, rate: (ms: number) => number, forMs: number, windowMs = STALL_MS): number | undefined {
  let now = 0
  const floor = new TakeFloor(total, windowMs, () => now)
  let taken = 0
  for (now = CHECK_MS; now <= forMs; now += CHECK_MS) {
    taken = Math.min(total, taken + rate(now) * CHECK_MS / 1000)
    if (floor.check(taken) !== undefined) return now
    if (taken === total) return undefined
  }
  return undefined
}

describe('the floor on a puller\'s pace', () => {
  it('lets a slow link (4 KiB/s) take a 1 MiB frame whole, in over four minutes', () => {
    assert.equal(run(1024 * KiB, () => 4 * KiB, 600_000), undefined)
  })

  it('ends a puller that takes 2 KiB/s, at the first STALL_MS', () => {
    assert.equal(run(1024 * KiB, () => 2 * KiB, 600_000), STALL_MS)
  })

  it('ends one that takes nothing, and one that stops after a fast start, STALL_MS after it stopped', () => {
    assert.equal(run(1024 * KiB, () => 0, 600_000), STALL_MS)
    assert.equal(run(1024 * KiB, ms => ms <= 10_000 ? 64 * KiB : 0, 600_000), 10_000 + STALL_MS)
  })

  it('judges the last STALL_MS, not the average: a burst cannot buy a later trickle', () => {
    // 512 KiB in the first second, then 1 KiB/s: far above the floor on average, below it from 21 s on
    assert.equal(run(1024 * KiB, ms => ms === CHECK_MS ? 512 * KiB : KiB, 600_000), CHECK_MS + STALL_MS)
  })

  it('asks as much a second of a shorter stall wait (--sync-stall): 3 s, 9.6 KiB', () => {
    assert.equal(new TakeFloor(1, 3_000).floorBytes, Math.ceil(TAKE_FLOOR_BYTES * 3 / 20))
    assert.equal(run(1024 * KiB, () => 2 * KiB, 600_000, 3_000), 3_000)
    assert.equal(run(1024 * KiB, () => 4 * KiB, 600_000, 3_000), undefined)
  })

  it('asks only for the rest of an offer smaller than the floor', () => {
    const small = TAKE_FLOOR_BYTES / 2
    assert.equal(run(small, () => small / 15, 600_000), undefined, 'half the floor, taken whole in 15 s')
    assert.equal(run(small, ms => ms <= STALL_MS ? small / STALL_MS * 1000 / 2 : 0, 600_000), STALL_MS, 'half of it in 20 s, then nothing')
  })
})
