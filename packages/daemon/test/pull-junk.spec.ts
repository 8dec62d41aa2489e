/**
 * A member that answers a pull with ops the puller cannot take (README,
 * Security). A pull ended once it brought only ops held already; ops refused
 * as forged, or checked and then not kept (no room to wait), kept it going,
 * and each costs a signature check (~0.1 ms here): a server that streamed
 * forgeries held the pull, and the puller's CPU, for as long as it went on
 * (the 20,000 here were all checked). They now count as bringing nothing,
 * and 512 in a row end the pull (core's `PullSession`).
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { STALE_OPS, type Frame, type Op } from '@murmur/core'
import { Attacker, freshWriter } from './attacker.js'
import { TestCluster, logged, waitFor } from './harness.js'
import { done, rejected } from './hostile-checks.js'

const FORGED = 20_000
const PER_FRAME = 500

describe('a member that answers a pull with forgeries, without end', () => {
  const cluster = new TestCluster()
  let mallory: Attacker | undefined
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it(`has the pull ended once ${STALE_OPS} in a row brought nothing, not each of them checked`, async () => {
    const alice = await cluster.start('alice', { args: ['--anti-entropy-interval', '60000', '--anti-entropy-max-interval', '60000'] })
    mallory = await Attacker.start()
    const attacker = mallory
    // ops of another writer's, each signed alone by mallory: each a signature check that fails
    const { origin: victim } = await freshWriter()
    const base = Date.now()
    const forged: Op[] = Array.from({ length: FORGED }, (_, i) => attacker.sign([{ key: `f${i}`, value: Buffer.from('x'), wall: base + i, logical: 0, origin: victim, seq: i + 1 }])[0] as Op)
    let answered = 0
    attacker.answer = function * (_puller, hello) {
      answered++
      yield attacker.hello(hello)
      for (let i = 0; i < forged.length; i += PER_FRAME) yield { kind: 'ops', ops: forged.slice(i, i + PER_FRAME) } satisfies Frame
      yield done
    }
    await attacker.dial(await alice.addr())
    await attacker.pull(await alice.addr()) // its hello shows it a member: alice pulls from it as they connect
    await waitFor(() => answered >= 1, 'alice to pull from mallory', 30_000, 100)
    // the pull ends one way or another: as bringing nothing, or once mallory is done (all of it checked)
    await logged(alice, new RegExp(`"peer":"${attacker.id}"[^\\n]*"msg":"(synced from peer|sync from peer failed)"`), 'the pull from mallory to end', 60_000)
    const refused = await rejected(alice)
    console.log(`# ${FORGED} forgeries served in one pull: alice checked and refused ${refused} before she ended it`)
    await logged(alice, /the server was sending nothing this node lacks/, 'alice to end the pull as bringing nothing')
    assert.ok(refused >= STALE_OPS, `${refused} refused: the first frames were checked`)
    assert.ok(refused <= STALE_OPS + 2 * PER_FRAME, `${refused} of ${FORGED} checked: the pull went on past ${STALE_OPS} forgeries in a row`)
    assert.equal((await alice.status()).keys, 0)
  })
})
