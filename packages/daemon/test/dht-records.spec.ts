/**
 * What the group's DHT keeps for others (README, Security). murmur asks the
 * DHT for peers only, yet Kademlia stored a provider record from any peer
 * for any key it named (ADD_PROVIDER), and a value record under any key a
 * validator takes (PUT_VALUE: a public key under its own hash): a stranger
 * in an open group could grow a node's memory with them for as long as it
 * went on. murmurd now keeps neither (dht-store.ts): another peer that asks
 * it finds none. Mallory and the peer that asks are libp2p nodes in the test
 * process that speak the group's DHT protocol.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, removePublicAddressesMapper, type KadDHT } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { Key } from 'interface-datastore'
import '../src/polyfill.js'
import { MAX_PEER_RECORD_BYTES, PeersOnlyDatastore } from '../src/dht-store.js'
import { TestCluster, waitFor } from './harness.js'

type DhtNode = Libp2p<{ dht: KadDHT }>

/** A libp2p node in the group's DHT (the protocol murmurd's libp2p-node.ts names, keeping private addresses as it does), serving it too. */
async function dhtNode (group = 'default'): Promise<DhtNode> {
  const tag = createHash('sha256').update(group).digest('hex').slice(0, 16)
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping(), dht: kadDHT({ protocol: `/murmur/${tag}/kad/1.0.0`, clientMode: false, peerInfoMapper: removePublicAddressesMapper }) }
  })
}

/** Resolves once `node`'s DHT routing table holds `peer`. */
async function knows (node: DhtNode, peer: string): Promise<void> {
  const table = (node.services.dht as unknown as { routingTable: { find: (id: unknown) => Promise<unknown> } }).routingTable
  const id = node.getConnections().find(c => c.remotePeer.toString() === peer)?.remotePeer
  await waitFor(async () => id !== undefined && await table.find(id) != null, `${peer} in the DHT's routing table`, 15_000, 100)
}

describe('a stranger that stores records in the group\'s DHT', () => {
  const cluster = new TestCluster()
  const nodes: DhtNode[] = []
  after(async () => {
    for (const node of nodes) await Promise.resolve(node.stop()).catch(() => {})
    await cluster.close()
  })

  it('leaves murmurd holding no provider record and no value record: a peer that asks it finds none', async () => {
    const victim = await cluster.start('victim', { dht: true })
    const addr = multiaddr(await victim.addr())
    const victimId = (await victim.status()).id as string
    const mallory = await dhtNode()
    nodes.push(mallory)
    await mallory.dial(addr)
    await knows(mallory, victimId)

    // mallory names itself the provider of a key, and stores a public key under its hash
    const cid = CID.createV1(raw.code, await sha256.digest(Buffer.from(`mallory ${Date.now()}`)))
    for await (const _ of mallory.services.dht.provide(cid, { signal: AbortSignal.timeout(15_000) })) { /* the query's events */ }
    const key = await generateKeyPair('Ed25519')
    const pkKey = Buffer.concat([Buffer.from('/pk/'), peerIdFromPrivateKey(key).toMultihash().bytes])
    for await (const _ of mallory.services.dht.put(pkKey, publicKeyToProtobuf(key.publicKey), { signal: AbortSignal.timeout(15_000) })) { /* the query's events */ }
    // mallory goes: only murmurd could now answer for either record
    await mallory.stop()

    const asker = await dhtNode()
    nodes.push(asker)
    await asker.dial(addr)
    await knows(asker, victimId)
    const providers: string[] = []
    for await (const event of asker.services.dht.findProviders(cid, { signal: AbortSignal.timeout(10_000) })) {
      if (event.name === 'PROVIDER') providers.push(...event.providers.map(p => p.id.toString()))
    }
    const values: number[] = []
    try {
      for await (const event of asker.services.dht.get(pkKey, { signal: AbortSignal.timeout(10_000) })) {
        if (event.name === 'VALUE') values.push(event.value.byteLength)
      }
    } catch {}
    console.log(`# asked murmurd for mallory's records: ${providers.length} providers, ${values.length} values`)
    assert.deepEqual(providers, [], 'murmurd kept mallory\'s provider record')
    assert.deepEqual(values, [], 'murmurd kept mallory\'s value record')
    // and the DHT still finds peers: the asker learnt of murmurd, and murmurd serves on
    assert.equal((await victim.status()).id, victimId)
  })
})

describe('the datastore under murmurd\'s libp2p', () => {
  it(`keeps peers' records up to ${MAX_PEER_RECORD_BYTES / 1024} KiB (an update past it is dropped, the record kept as it was), and no DHT record`, async () => {
    const store = new PeersOnlyDatastore()
    const peer = new Key('/peers/abc')
    await store.put(peer, new Uint8Array(2_000).fill(1))
    await store.put(peer, new Uint8Array(MAX_PEER_RECORD_BYTES + 1).fill(2))
    assert.deepEqual(await store.get(peer), new Uint8Array(2_000).fill(1))
    await store.put(new Key('/dht/provider/cid/peer'), new Uint8Array(10))
    await store.put(new Key('/dht/record/key'), new Uint8Array(10))
    assert.equal(await store.has(new Key('/dht/provider/cid/peer')), false)
    assert.equal(await store.has(new Key('/dht/record/key')), false)
    assert.deepEqual(store.refused, { dht: 2, peer: 1 })
    // what libp2p keeps of its own is kept, through a batch too
    const batch = store.batch()
    batch.put(new Key('/peers/def'), new Uint8Array(100))
    await batch.commit()
    assert.equal(await store.has(new Key('/peers/def')), true)
  })
})
