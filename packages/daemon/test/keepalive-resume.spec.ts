/**
 * A keepalive resumed at a restart waits until its node has caught up from a
 * peer: bob wrote the key while alice was down, and alice's first refresh,
 * had it gone by the rows she held when she stopped, would have written over
 * bob's newer write (a refresh is not a version: bob's would not even show
 * as a conflict). It finds the key bob's instead, and the keepalive ends.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { TestCluster, logged, waitFor, type TestNode } from './harness.js'

async function value (node: TestNode, key: string): Promise<string | undefined> {
  return ((await node.rpc('kv_get', { key })) as { value?: string } | null)?.value
}

describe('put --ttl --keepalive across a restart', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('a write another node made while this one was down ends the keepalive; it is not written over', async () => {
    const alice = await cluster.start('alice')
    const bob = await cluster.start('bob', { peers: [await alice.addr()] })
    await waitFor(async () => (await alice.status()).peers === 1, 'alice and bob to connect')
    assert.equal((await alice.ctl(['put', '--ttl', '30s', '--keepalive', 'svc/lock', 'alice\'s'])).code, 0)
    await waitFor(async () => await value(bob, 'svc/lock') === 'alice\'s', 'bob to get alice\'s key')
    await alice.stop()
    assert.equal((await bob.ctl(['put', 'svc/lock', 'bob\'s'])).code, 0)
    await alice.start({ peers: [await bob.addr()] })
    // a third of the TTL (10 s) after the start at the latest, alice refreshes or ends the keepalive
    await logged(alice, /keepalive ended: another node wrote the key/, 'alice found bob\'s write', 15_000)
    assert.deepEqual((await alice.status()).keepalives, [], 'the keepalive ended')
    for (const node of [alice, bob]) assert.equal(await value(node, 'svc/lock'), 'bob\'s', `${node.name} holds bob's write`)
  })
})
