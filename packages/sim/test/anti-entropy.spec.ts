/**
 * The simulated anti-entropy's choice of whom to pull, as murmurd's: a member
 * whose attestation disagreed and that was not asked again since first, any
 * reachable peer otherwise. (Hostile seed 19671, before: the others drew
 * peers at random, and with the pace backed off at rest they did not ask the
 * member again within the run, so it held their collection back to its end.)
 * At most every other round, so a member due again every round (one that
 * attests a lie each time) cannot take every pull and starve the repair
 * anti-entropy is for. One that no link reaches is dialled, every round,
 * whether or not one it reaches is due too (hostile seed 22869: n0 and n1,
 * not linked to n3, never asked it and never collected what the others had).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SimAntiEntropy } from '../src/anti-entropy.js'
import { Rng } from '../src/rng.js'
import { Scheduler } from '../src/scheduler.js'

function rounds (due: () => string[], visited: string[] = [], peers = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5']): string[] {
  const sched = new Scheduler()
  const pulled: string[] = []
  const init = {
    sched,
    rng: new Rng(7),
    intervalMs: 1_000,
    peers: () => peers,
    pull: (peer: string) => { pulled.push(peer) },
    vector: () => ({}),
    due,
    visit: (peer: string) => { visited.push(peer) },
    claimPulls: true
  }
  const ae = new SimAntiEntropy(init)
  ae.start()
  sched.run(120_000)
  ae.stop()
  return pulled
}

describe('simulated anti-entropy', () => {
  it('asks a member whose recheck is due before any other peer, every other round: one due every round does not take every pull', () => {
    const pulled = rounds(() => ['n3', 'm0']) // m0 is not reachable: only n3 can be asked
    assert.ok(pulled.length >= 6, `rounds ran: ${pulled.length}`)
    assert.deepEqual([...new Set(pulled.filter((_, i) => i % 2 === 0))], ['n3'])
    const between = new Set(pulled.filter((_, i) => i % 2 === 1))
    assert.ok(between.size >= 3, `drawn between: ${[...between].join(', ')}`)
  })

  it('dials each member due that it does not reach, as murmurd does, and pulls from a peer it reaches meanwhile', () => {
    const visited: string[] = []
    const pulled = rounds(() => ['n7', 'm0'], visited)
    assert.ok(pulled.length >= 5 && visited.length === 2 * pulled.length, `rounds: ${pulled.length}, dials: ${visited.length}`)
    assert.deepEqual([...new Set(visited)].sort(), ['m0', 'n7'])
    const alone: string[] = []
    assert.deepEqual(rounds(() => ['n7'], alone, []), [])
    assert.ok(alone.length >= 5, `dials with no link at all: ${alone.length}`)
  })

  it('dials a member due that it does not reach even while one it reaches is due (hostile seed 22869, again: n1\'s linked members were due every round, so it never dialled n0 and n3)', () => {
    const visited: string[] = []
    const pulled = rounds(() => ['n3', 'm0'], visited)
    assert.ok(visited.length === pulled.length && visited.every(peer => peer === 'm0'), `rounds: ${pulled.length}, dials: ${visited.join(', ')}`)
  })

  it('draws among every reachable peer when no recheck is due', () => {
    const pulled = rounds(() => [])
    assert.ok(new Set(pulled).size >= 3, `peers drawn: ${[...new Set(pulled)].join(', ')}`)
  })
})
