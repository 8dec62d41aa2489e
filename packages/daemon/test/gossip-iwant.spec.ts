/**
 * A member outside a node's gossip mesh hears of what the node forwards by
 * IHAVE, once a heartbeat, and asks for every message it has not seen in one
 * IWANT. Gossipsub answers an IWANT in one RPC; after a burst of batches that
 * RPC is far over what a peer reads in one (`maxInboundDataLength`), and the
 * reader dropped the stream and forgot the node while the connection stayed up
 * (`gossip-fragment.ts` splits it). The member here is a libp2p node of the
 * test's own that never joins a mesh and reads at most 600 KiB in one RPC
 * (murmurd's own limit is 1.5 MiB): any answer of two ~430 kB batches at once
 * is over it. It hears only through bob (alice writes, and alice's own
 * publishes go straight to every peer she has).
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { MurmurClient, type PeerInfo } from '@murmur/protocol'
import { Attacker } from './attacker.js'
import { TestCluster, waitFor } from './harness.js'

const BATCHES = 12
const VALUE = 'v'.repeat(400)

describe('a member outside the mesh that asks for a burst by IWANT', () => {
  const cluster = new TestCluster()
  let member: Attacker | undefined
  after(async () => {
    await member?.node.stop()
    await cluster.close()
  })

  it('takes every batch, each answer within what it reads in one RPC, and keeps its stream', async () => {
    const alice = await cluster.start('alice')
    const bob = await cluster.start('bob', { peers: [await alice.addr()] })
    // never grafts, and refuses a GRAFT on a connection it did not open: it stays outside bob's mesh
    member = await Attacker.start('default', undefined, { gossip: { D: 0, Dlo: 0, Dhi: 0, Dout: 0, Dscore: 0, maxInboundDataLength: 600 * 1024 } })
    const pubsub = member.node.services.pubsub as unknown as { handleIHave: (id: string, ihave: unknown[]) => Array<{ messageIDs?: Uint8Array[] }> }
    const handleIHave = pubsub.handleIHave.bind(pubsub)
    let asked = 0
    pubsub.handleIHave = (id, ihave) => {
      const iwant = handleIHave(id, ihave)
      asked = Math.max(asked, iwant.reduce((n, w) => n + (w.messageIDs?.length ?? 0), 0))
      return iwant
    }
    const id = member.id
    const addr = member.node.getMultiaddrs()[0]
    assert.ok(addr !== undefined, 'the member listens')
    assert.equal((await bob.ctl(['connect', addr.toString()])).code, 0)
    await waitFor(async () => (await bob.json<PeerInfo[]>(['peers'])).some(p => p.id === id && p.gossip === true), 'bob to count the member as subscribed')

    const client = await MurmurClient.connect(alice.socket)
    try {
      for (let b = 0; b < BATCHES; b++) {
        const results = await client.batch(Array.from({ length: 1000 }, (_, j) => ({ method: 'kv_put' as const, params: { key: `burst:${b * 1000 + j}`, value: VALUE } })))
        assert.ok(results.every(r => r.error === undefined), 'alice took every put')
      }
    } finally {
      client.close()
    }

    const keys = (): number => new Set(member?.captured.filter(op => op.key.startsWith('burst:')).map(op => op.key)).size
    await waitFor(() => keys() === BATCHES * 1000, `the member to take all ${BATCHES * 1000} keys by IWANT`, 30_000, 250)
      .catch(err => { throw new Error(`${(err as Error).message}: ${keys()} taken; most asked at once ${asked}`) })
    assert.ok(asked >= 2, `the member asked for at most ${asked} message at once; the scenario needs an answer of several`)
    const bobId = (await bob.status()).id as string
    assert.deepEqual(member.node.getPeers().map(p => p.toString()), [bobId], 'the member heard only through bob')
    assert.ok(member.node.services.pubsub.getSubscribers(member.topic).some(p => p.toString() === bobId), 'the member still counts bob as subscribed: its stream from bob was never dropped')
    const view = (await bob.json<PeerInfo[]>(['peers'])).find(p => p.id === id)
    assert.equal(view?.mesh, false, 'the member stayed outside bob\'s mesh')
  })
})
