/**
 * Gossipsub forgets a connected peer when the peer store's record of its
 * protocols loses gossipsub's, though connected: two real libp2p nodes show
 * it, and what GossipPeers does about it (identify again, then hang up).
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import pino from 'pino'
import '../src/polyfill.js'
import { GossipPeers, type GossipPeersInit } from '../src/gossip-peers.js'
import { waitFor } from './harness.js'

type Node = Libp2p<{ identify: Identify, pubsub: GossipSub }>
const TOPIC = '/murmur-test/gossip-peers'
let a: Node
let b: Node

async function node (): Promise<Node> {
  const libp2p = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, globalSignaturePolicy: 'StrictNoSign' }) }
  })
  libp2p.services.pubsub.subscribe(TOPIC)
  return libp2p
}

const knows = (x: Node, y: Node): boolean => x.services.pubsub.getPeers().some(p => p.equals(y.peerId))

before(async () => {
  a = await node()
  b = await node()
  await a.dial(b.getMultiaddrs())
  await waitFor(() => knows(a, b) && knows(b, a), 'gossipsub on both nodes to know the other', 10_000)
})

after(async () => {
  await a?.stop()
  await b?.stop()
})

/** What a racing identify patch does: the record of b's protocols loses gossipsub's, and gossipsub on a forgets b. */
async function forget (): Promise<void> {
  await a.peerStore.patch(b.peerId, { protocols: [] })
  await waitFor(() => !knows(a, b), 'gossipsub on a to forget b, though connected', 10_000)
  assert.equal(a.getConnections(b.peerId).length > 0, true, 'still connected')
}

function watch (over: Partial<GossipPeersInit> = {}): GossipPeers {
  return new GossipPeers({
    pubsub: a.services.pubsub,
    topic: TOPIC,
    connections: () => a.getConnections(),
    identify: async connection => await a.services.identify.identify(connection),
    hangUp: async peer => { await a.hangUp(peer) },
    isMember: peer => peer === b.peerId.toString(),
    log: pino({ level: 'silent' }),
    everyMs: 2_000,
    retryMs: 3_000,
    ...over
  })
}

test('a connected member that gossipsub forgot is identified again', async () => {
  const peers = watch()
  assert.deepEqual(peers.check(), [], 'nothing to do while gossipsub has every member')
  await forget()
  const before = (await a.services.pubsub.publish(TOPIC, new TextEncoder().encode('lost'))).recipients.length
  assert.equal(before, 0, 'a publishes to nobody while gossipsub has forgotten b')
  const t0 = Date.now()
  assert.deepEqual(peers.check(t0), [], 'a member missing a moment is given time')
  assert.deepEqual(peers.check(t0 + 2_000), [{ peer: b.peerId.toString(), did: 'identify' }])
  // gossipsub takes b back as a peer; b's subscription comes only with a stream b opens, hence the hang-up below
  await waitFor(() => knows(a, b), 'gossipsub on a to know b again', 10_000)
})

test('a member that identify does not bring back is hung up on; strangers are left alone', async () => {
  const hungUp: string[] = []
  let identified = 0
  const stranger = watch({ isMember: () => false, identify: async () => { identified++ }, hangUp: async peer => { hungUp.push(peer.toString()) } })
  const member = watch({ identify: async () => { identified++ }, hangUp: async peer => { hungUp.push(peer.toString()) } })
  await forget()
  const t0 = Date.now()
  for (const t of [t0, t0 + 2_000, t0 + 5_000]) assert.deepEqual(stranger.check(t), [])
  assert.deepEqual(member.check(t0), [])
  assert.deepEqual(member.check(t0 + 2_000), [{ peer: b.peerId.toString(), did: 'identify' }])
  assert.deepEqual(member.check(t0 + 4_000), [], 'identify is given its time')
  assert.deepEqual(member.check(t0 + 4_999), [])
  assert.deepEqual(member.check(t0 + 5_000), [{ peer: b.peerId.toString(), did: 'hang up' }])
  assert.equal(identified, 1)
  assert.deepEqual(hungUp, [b.peerId.toString()])
  // the real hang-up and redial give gossipsub on both sides a fresh start. Not always the first time: about one
  // redial in eight here (and twice in CI, 2026-12-04 and -05), a never learnt b's subscription on the new
  // connection, though both knew the other, and published to nobody. GossipPeers checks again and hangs up again;
  // so does this test, up to three times
  const subscribed = (): boolean => knows(a, b) && knows(b, a) && a.services.pubsub.getSubscribers(TOPIC).some(p => p.equals(b.peerId))
  for (let round = 1; ; round++) {
    await a.hangUp(b.peerId)
    await waitFor(() => b.getConnections(a.peerId).length === 0, 'b to see the hang-up', 10_000)
    await a.dial(b.getMultiaddrs())
    const back = await waitFor(subscribed, 'a to know b\'s subscription after the redial', 5_000).catch(() => false)
    if (back === true) {
      console.log(`# gossip came back after ${round} hang-up${round > 1 ? 's' : ''} and redial${round > 1 ? 's' : ''}`)
      break
    }
    assert.ok(round < 3, 'gossip came back after none of three hang-ups and redials')
  }
  const got = new Promise<string>(resolve => {
    b.services.pubsub.addEventListener('message', event => { resolve(new TextDecoder().decode(event.detail.data)) }, { once: true })
  })
  await waitFor(async () => (await a.services.pubsub.publish(TOPIC, new TextEncoder().encode(`back ${Date.now()}`))).recipients.length > 0, 'a to publish to b again', 30_000, 200)
  assert.match(await got, /^back /)
})
