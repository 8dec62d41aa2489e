/**
 * Who may write: with an allow-list, ops whose origin is not on it are
 * refused even when a member relays them (gossip forwards whatever its own
 * node accepted, and sync serves it from storage).
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { TestCluster, logged, waitFor } from './harness.js'

describe('allow-list for writes', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('refuses ops from an origin that is not allowed, relayed by a member that accepts them', async () => {
    // bob is open and relays; alice allows only bob; carol talks only to bob
    const bob = await cluster.start('bob')
    const bobId = (await bob.status()).id
    const alice = await cluster.start('alice', { args: ['--allow', bobId], peers: [await bob.addr()] })
    const carol = await cluster.start('carol', { peers: [await bob.addr()] })
    await carol.put('from:carol', 'not allowed at alice')
    await bob.put('from:bob', 'allowed')
    await waitFor(async () => (await bob.ctl(['get', 'from:carol'])).code === 0, 'bob to accept carol\'s write')
    await waitFor(async () => (await alice.ctl(['get', 'from:bob'])).stdout === 'allowed\n', 'alice to get bob\'s write')
    await waitFor(async () => (await alice.status()).counters.rejected > 0, 'alice to refuse carol\'s op')
    // anti-entropy runs while we wait: the relayed op must stay out, by gossip and by sync
    assert.equal((await alice.ctl(['get', 'from:carol'])).code, 4)
    await logged(alice, /not on the allow-list/, 'alice refused carol\'s op')
  })
})
