/**
 * A keepalive whose key another node deleted ends even when that delete is
 * collected before the next refresh (a tombstone grace shorter than a third
 * of the TTL): with no row left, the key's newest version in history is the
 * other node's delete, and no refresh brings the key back.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { TestCluster, waitFor, type TestNode } from './harness.js'

const FAST_GC = ['--tombstone-grace', '1000', '--anti-entropy-interval', '500']

async function present (node: TestNode, key: string): Promise<boolean> {
  return (await node.rpc('kv_get', { key })) !== null
}

describe('put --ttl --keepalive, with tombstones collected within a third of the TTL', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('ends when another node deleted the key, even once that delete is collected before the next refresh', async () => {
    const alice = await cluster.start('alice', { args: FAST_GC })
    const bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST_GC })
    await waitFor(async () => (await alice.status()).peers === 1, 'alice and bob to connect')
    // refreshed every 10 s; bob's delete is collected on both within a few seconds
    assert.equal((await alice.ctl(['put', '--ttl', '30s', '--keepalive', 'svc/alice', 'up'])).code, 0)
    await waitFor(async () => await present(bob, 'svc/alice'), 'bob to get the key')
    assert.equal((await bob.ctl(['del', 'svc/alice'])).code, 0)
    await waitFor(() => [alice, bob].every(node => !(node.userRows() as Array<{ key: string }>).some(row => row.key === 'svc/alice')), 'the delete collected on both')
    // alice's next refresh finds no row: bob's delete, collected, is the key's newest version
    await waitFor(async () => (await alice.status()).keepalives.length === 0 || await present(bob, 'svc/alice'), 'alice\'s next refresh', 20_000)
    assert.equal(await present(bob, 'svc/alice'), false, 'the deleted key stays deleted')
    assert.deepEqual((await alice.status()).keepalives, [], 'the keepalive ended')
  })
})
