/**
 * `status`'s `peerSync[].behind` on real daemons: what a peer holds, by its
 * own word, follows its pulls from this node, short hellos (a digest, not a
 * vector) included: a peer that took this node's writes by gossip and says
 * so with a digest equal to this node's is not shown behind.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { TestCluster, waitFor } from './harness.js'

describe('peerSync behind', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('drops to 0 once a peer that pulls with short hellos holds all of this node\'s ops', async () => {
    // alice does not pull on her own for a minute: only bob's pulls (short hellos once in step) tell her what he holds
    const alice = await cluster.start('alice', { args: ['--anti-entropy-interval', '60000', '--anti-entropy-max-interval', '60000'] })
    const bob = await cluster.start('bob', { peers: [await alice.addr()], args: ['--anti-entropy-interval', '200', '--anti-entropy-max-interval', '400'] })
    const bobId = (await bob.status()).id as string
    const behind = async (): Promise<number | undefined> => (await alice.status()).peerSync.find((p: { id: string }) => p.id === bobId)?.behind
    await waitFor(async () => (await behind()) === 0, 'alice to see bob in step')
    for (let i = 0; i < 5; i++) await alice.put(`k${i}`, 'v')
    await cluster.converged([alice, bob], 5)
    // bob holds everything alice does; his pulls say so every 400 ms
    await waitFor(async () => (await behind()) === 0, 'alice to see bob holds her writes', 5_000)
    assert.equal(await behind(), 0)
  })
})
