/**
 * A node restarted gracefully (a restart, an upgrade) is back in its peers'
 * gossip mesh at once. It used to leave the topic as it stopped, which sends
 * each mesh peer a PRUNE that backs the node off for 10 s; back within them,
 * its GRAFTs were refused and the back-off raised to a minute, and for that
 * minute what its peers forwarded reached it only as IHAVE offers, a
 * heartbeat late. In a chain (alice and carol meet only through bob) every
 * write of alice's reaches carol that way.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { PeerInfo } from '@murmur/protocol'
import { TestCluster, waitFor, type TestNode } from './harness.js'

/** `of`'s view of `peer` in `murmurctl peers --json`, if connected. */
async function viewOf (of: TestNode, peer: TestNode): Promise<PeerInfo | undefined> {
  return (await of.json<PeerInfo[]>(['peers'])).find(p => p.name === peer.name)
}

async function meshed (x: TestNode, y: TestNode): Promise<boolean> {
  const [xy, yx] = await Promise.all([viewOf(x, y), viewOf(y, x)])
  return xy?.mesh === true && yx?.mesh === true
}

describe('a node restarted gracefully', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('is back in its peer\'s gossip mesh within a few heartbeats', async () => {
    const bob = await cluster.start('bob')
    const alice = await cluster.start('alice', { peers: [await bob.addr()] })
    const carol = await cluster.start('carol', { peers: [await bob.addr()] })
    await waitFor(async () => await meshed(bob, carol) && await meshed(bob, alice), 'bob, alice and carol in each other\'s mesh', 15_000)

    assert.equal(await carol.stop(), 0)
    await carol.start({ peers: [await bob.addr()] })
    // gossipsub grafts at its heartbeat (1 s); the back-off held carol out for a minute
    await waitFor(async () => await meshed(bob, carol), 'bob and carol in each other\'s mesh again', 10_000)
    const line = (await carol.ctl(['peers'])).stdout.split('\n').find(l => l.includes(' bob '))
    assert.match(line ?? '', /  bob  member  /, 'murmurctl peers shows bob as a member in the mesh')

    // and the chain carries alice's writes to carol (bob forwards them; an IHAVE or anti-entropy would too, later)
    await alice.put('after-restart', 'forwarded')
    await waitFor(async () => await carol.value('after-restart') === 'forwarded', 'alice\'s write to reach carol through bob', 10_000)
  })
})
