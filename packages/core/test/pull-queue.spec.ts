/**
 * Core's `PullQueue` on a clock of the test's own: one pull at a time, but
 * none held back by a peer that trickles, whether its frames bring nothing
 * or a little each, and no slot held for good by one while others wait.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PullQueue, type PullQueueInit } from '../src/index.js'

/** A queue whose pulls end only when the test says (`finish`), with the signal each was started with. */
function queueOf (init: Partial<PullQueueInit> = {}): { queue: PullQueue, started: string[], finish: Map<string, () => void>, ending: Map<string, AbortSignal>, clock: { now: number } } {
  const clock = { now: 0 }
  const started: string[] = []
  const finish = new Map<string, () => void>()
  const ending = new Map<string, AbortSignal>()
  const queue = new PullQueue({ now: () => clock.now, stallMs: 2_000, ...init, start: (peer, finished, signal) => { started.push(peer); finish.set(peer, finished); ending.set(peer, signal) } })
  return { queue, started, finish, ending, clock }
}

describe('pull queue', () => {
  it('runs one pull at a time, but lets the next start beside one that delivers nothing', () => {
    const { queue, started, finish, clock } = queueOf()
    queue.request('slow')
    queue.request('honest')
    queue.request('slow')
    assert.deepEqual(started, ['slow'])
    clock.now += 1_000
    queue.progress('slow')
    queue.tick()
    assert.deepEqual(started, ['slow'])
    clock.now += 2_500
    queue.tick()
    assert.deepEqual(started, ['slow', 'honest'], 'the trickler no longer holds the honest peer back')
    finish.get('honest')?.()
    finish.get('slow')?.()
    assert.deepEqual(started, ['slow', 'honest', 'slow'], 'a request made while it ran runs once more')
    assert.equal(queue.waiting, 0)
  })

  it('lets the next start beside one that delivers a little every second, and not beside one that delivers a catch-up', () => {
    const { queue, started, clock } = queueOf({ holdBytes: 16_384 })
    queue.request('fast')
    queue.request('honest')
    for (let i = 0; i < 10; i++) {
      clock.now += 1_000
      queue.progress('fast', 64 * 1024)
      queue.tick()
    }
    assert.deepEqual(started, ['fast'], 'a pull bringing 64 KiB a second holds the next back')
    const { queue: slowQueue, started: slowStarted, clock: slowClock } = queueOf({ holdBytes: 16_384 })
    slowQueue.request('slow')
    slowQueue.request('honest')
    // a new op of its own (a few hundred bytes) every second: each frame a delivery
    for (let i = 0; i < 3; i++) {
      slowClock.now += 500
      slowQueue.progress('slow', 300)
      slowClock.now += 500
      slowQueue.tick()
    }
    assert.deepEqual(slowStarted, ['slow', 'honest'], 'a trickle of new ops no longer holds the honest peer back')
  })

  it('ends, while every slot is taken and a pull waits, the one that brought least lately once it has run evictMs, and asks it again after the waiting one', () => {
    const { queue, started, finish, ending, clock } = queueOf({ maxActive: 2, evictMs: 5_000 })
    for (const peer of ['a', 'b', 'honest']) queue.request(peer)
    clock.now += 2_500
    queue.tick()
    assert.deepEqual(started, ['a', 'b'])
    clock.now += 2_000
    queue.tick()
    assert.ok(!(ending.get('a')?.aborted ?? true) && !(ending.get('b')?.aborted ?? true), 'neither has run 5 s')
    clock.now += 2_500
    queue.progress('a', 100)
    clock.now += 1_000
    queue.tick()
    assert.equal(ending.get('b')?.aborted, true, 'b brought nothing since its hello: it is ended')
    assert.equal(ending.get('a')?.aborted, false, 'a brought a little a second ago: it runs on')
    finish.get('b')?.()
    assert.deepEqual(started, ['a', 'b', 'honest'], 'the honest peer takes the slot')
    assert.equal(queue.waiting, 1, 'b is asked again, after the pulls that waited')
    clock.now += 2_000
    queue.progress('honest', 64 * 1024)
    clock.now += 500
    queue.tick()
    assert.equal(ending.get('a')?.aborted, false, 'while the honest peer brings a catch-up, b could not start beside it: a is not ended for it')
    finish.get('honest')?.()
    assert.deepEqual(started, ['a', 'b', 'honest', 'b'])
  })
})
