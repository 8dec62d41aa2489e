/**
 * The simulated anti-entropy's choice of whom to pull, as murmurd's: a member
 * whose attestation disagreed and that was not asked again since first, any
 * reachable peer otherwise. (Hostile seed 19671, before: the others drew
 * peers at random, and with the pace backed off at rest they did not ask the
 * member again within the run, so it held their collection back to its end.)
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SimAntiEntropy } from '../src/anti-entropy.js'
import { Rng } from '../src/rng.js'
import { Scheduler } from '../src/scheduler.js'

function rounds (due: () => string[]): string[] {
  const sched = new Scheduler()
  const pulled: string[] = []
  const ae = new SimAntiEntropy({
    sched,
    rng: new Rng(7),
    intervalMs: 1_000,
    peers: () => ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'],
    pull: peer => { pulled.push(peer) },
    vector: () => ({}),
    due,
    claimPulls: true
  })
  ae.start()
  sched.run(120_000)
  ae.stop()
  return pulled
}

describe('simulated anti-entropy', () => {
  it('asks a member whose recheck is due before any other peer', () => {
    const pulled = rounds(() => ['n3', 'm0']) // m0 is not reachable: only n3 can be asked
    assert.ok(pulled.length >= 5, `rounds ran: ${pulled.length}`)
    assert.deepEqual([...new Set(pulled)], ['n3'])
  })

  it('draws among every reachable peer when no recheck is due', () => {
    const pulled = rounds(() => [])
    assert.ok(new Set(pulled).size >= 3, `peers drawn: ${[...new Set(pulled)].join(', ')}`)
  })
})
