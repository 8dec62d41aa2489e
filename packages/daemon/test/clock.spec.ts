/**
 * Ops refused because they are stamped too far ahead of this node's clock are
 * not counted as held (hole 4): once the clocks agree, the same ops arrive.
 * bob runs two hours ahead under libfaketime, on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { fakeTime, noFakeTime } from './fake-time.js'
import { TestCluster, logged, waitFor } from './harness.js'

const skip = noFakeTime
const AHEAD = fakeTime('+2h')
const FAST = ['--anti-entropy-interval', '300']

describe('ops refused for the clock (libfaketime)', { skip }, () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('an op two hours ahead is refused and not counted; once alice\'s clock agrees, she gets it', async () => {
    const alice = await cluster.start('alice', { args: FAST })
    const bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST, prefix: AHEAD })
    const bobId = (await bob.status()).id
    await bob.put('from:the:future', 'hello')
    await waitFor(async () => (await alice.status()).counters.rejected > 0, 'alice to refuse bob\'s ops')
    assert.equal((await alice.ctl(['get', 'from:the:future'])).code, 4)
    assert.equal((await alice.status()).versionVector[bobId], undefined, 'nothing of bob\'s counts as held')
    await logged(alice, /s ahead of this node's clock/, 'alice refused the op from the future')
    // alice's clock now agrees with bob's: the same ops arrive
    assert.equal(await alice.stop(), 0)
    await alice.start({ args: FAST, peers: [await bob.addr()], prefix: AHEAD })
    await waitFor(async () => await alice.value('from:the:future') === 'hello', 'alice to get bob\'s op once her clock agrees')
    await waitFor(() => JSON.stringify(alice.rows()) === JSON.stringify(bob.rows()), 'identical kv_store rows')
  })
})
