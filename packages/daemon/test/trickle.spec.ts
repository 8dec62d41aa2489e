/**
 * A member that trickles its syncs cannot hold up catch-up from honest peers
 * (hole 9, README Security): pulls run one at a time, but one that has
 * delivered nothing new for 2 s no longer holds back the next. "Nothing new"
 * includes frames that carry nothing at all: a server that sends an empty
 * frame every second has delivered no op.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, describe, it } from 'node:test'
import type { Frame, Hello } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, waitFor } from './harness.js'

describe('a member that trickles empty frames (hole 9)', () => {
  const cluster = new TestCluster()
  let attacker: Attacker | undefined
  let trickling = true
  after(async () => {
    trickling = false
    await attacker?.stop()
    await cluster.close()
  })

  it('does not hold back a pull from an honest peer: alice catches up from bob within seconds', async () => {
    const bob = await cluster.start('bob')
    for (let i = 0; i < 3; i++) await bob.put(`k${i}`, `v${i}`)
    // restarted, bob has no recent gossip to offer: only a pull can bring his writes
    assert.equal(await bob.stop(), 0)
    await bob.start()
    attacker = await Attacker.start()
    const mallory = attacker
    // its answer to a pull: a hello that holds what the puller holds, then an empty ops frame every second, for a minute
    mallory.answer = async function * (_puller: string, hello: Hello): AsyncGenerator<Frame> {
      yield mallory.hello(hello)
      for (let i = 0; i < 60 && trickling; i++) {
        await sleep(1_000)
        yield { kind: 'ops', ops: [] }
      }
      yield { kind: 'control', message: { t: 'done' } }
    }
    const maddr = mallory.node.getMultiaddrs()[0]?.toString() ?? ''
    const alice = await cluster.start('alice', { peers: [maddr] })
    await waitFor(() => mallory.pulls.length > 0, 'alice to pull from mallory')
    const asked = Date.now()
    assert.equal((await alice.ctl(['connect', await bob.addr()])).code, 0)
    await cluster.converged([alice, bob], 3, 15_000)
    const took = Date.now() - asked
    console.log(`# alice held bob's 3 keys ${took} ms after connecting to him, beside mallory's trickle`)
    assert.ok(took < 10_000, `${took} ms`)
  })
})
