/**
 * The relay's bounds as the README's Security section states them, on real
 * murmurd processes on 127.0.0.1 (mDNS and DHT off): a relayed connection
 * between members has no data limit (libp2p's public default is 128 KiB), and
 * a relay holds at most 128 reservations, each freed as its member leaves,
 * and 64 hop streams on each member's connection. That a stranger gets no
 * reservation is relay.spec's.
 */
import '../src/polyfill.js'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Stream } from '@libp2p/interface'
import { tcp, type TCPSocketOptions } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { SYNC_PROTOCOL, encodeFrame } from '@murmur/core'
import { createLibp2p, type Libp2p } from 'libp2p'
import { topicFor } from '../src/gossip.js'
import { HOP_OK, HOP_RESERVATION_REFUSED, RESERVE, hopStatus, relayedAddr, reserve, ticketOf } from './relaying.js'
import { TestCluster, waitFor, type TestNode } from './harness.js'

/** The node's own address, not one through a relay. */
async function directAddr (node: TestNode): Promise<string> {
  return (await node.status()).addrs.find((a: string) => !a.includes('/p2p-circuit'))
}

describe('a relayed connection between members', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  /**
   * carol writes; she talks only to alice, and the relay's allow-list leaves
   * her out, so the relay refuses her ops and cannot pass them on itself:
   * what bob gets of them came from alice, through the relay. With libp2p's
   * default limit a relayed connection is limited, gossip and sync do not run
   * on it, and nothing of carol's reaches bob.
   */
  it('carries 4 MiB of writes to bob, far over the public default of 128 KiB, and stays up', async () => {
    const alice = await cluster.start('alice')
    const bob = await cluster.start('bob')
    const [aliceId, bobId] = [(await alice.status()).id, (await bob.status()).id]
    const relay = await cluster.start('relay', { args: ['--relay', '--allow', aliceId, '--allow', bobId] })
    const relayId = (await relay.status()).id
    for (const node of [alice, bob]) assert.equal((await node.ctl(['connect', await relay.addr()])).code, 0)
    const aliceRelayed = await relayedAddr(alice, relayId, 30_000)
    const connected = await bob.ctl(['connect', aliceRelayed])
    assert.equal(connected.code, 0, connected.stderr)
    await waitFor(async () => (await bob.json<any[]>(['peers'])).find(p => p.id === aliceId && p.member && p.gossip === true), 'bob to hear alice\'s gossip')
    const carol = await cluster.start('carol', { peers: [await directAddr(alice)] })
    const carolId = (await carol.status()).id

    const values = Array.from({ length: 16 }, () => randomBytes(128 * 1024).toString('hex')) // 256 KiB each
    for (const [i, value] of values.entries()) {
      const put = await carol.ctl(['put', `big/${i}`, '-'], value)
      assert.equal(put.code, 0, put.stderr)
    }
    for (const [i, value] of values.entries()) {
      await waitFor(async () => await bob.value(`big/${i}`) === value, `big/${i} to reach bob`, 60_000, 200)
    }
    assert.equal((await relay.ctl(['get', 'big/0'])).code, 4, 'the relay took none of it')
    assert.equal((await bob.json<any[]>(['peers'])).some(p => p.id === carolId), false, 'bob never met carol')
    const seen = (await bob.json<any[]>(['peers'])).find(p => p.id === aliceId)
    assert.equal(seen?.connection, 'relayed', 'bob still reaches alice through the relay')
    assert.equal(seen?.relay, relayId)
    for (const [node, other] of [[bob, aliceId], [alice, bobId]] as const) {
      assert.doesNotMatch(node.stderr, new RegExp(`"peer":"${other}"[^\\n]*"group member disconnected"`), `${node.name}'s connection never dropped`)
    }
  })
})

/**
 * A member of an open group as a test makes one: a libp2p node that shows
 * itself a member the way murmurd does (a sync hello naming the group) and
 * subscribes to the group's topic (the relay hangs up on a member gossip
 * never reaches). Each dials from an address of its own in 127.0.0.0/8:
 * libp2p takes at most 5 new connections a second from one host.
 */
async function member (relayAddr: string, from: string): Promise<Libp2p> {
  const node = await createLibp2p({
    transports: [tcp({ dialOpts: { localAddress: from } as TCPSocketOptions })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), pubsub: gossipsub({ globalSignaturePolicy: 'StrictNoSign' }) }
  })
  node.services.pubsub.subscribe(topicFor('default'))
  const stream = await node.dialProtocol(multiaddr(relayAddr), SYNC_PROTOCOL)
  const lp = lpStream(stream)
  await lp.write(encodeFrame({ kind: 'control', message: { t: 'hello', group: 'default', name: `member-${from}`, now: Date.now(), vector: {} } }))
  await lp.read() // the relay's hello: it took ours
  stream.abort(new Error('shown to be a member'))
  return node
}

describe('a relay\'s bounds on members', () => {
  const cluster = new TestCluster()
  const members: Libp2p[] = []
  after(async () => {
    await Promise.all(members.map(async node => { await node.stop() }))
    await cluster.close()
  })

  it('reservations are at most 128: more are refused, the ones held still work, and a member that leaves frees its slot', async () => {
    const relay = await cluster.start('relay', { args: ['--relay'] })
    const relayId = (await relay.status()).id
    const relayAddr = `${(await relay.status()).addrs[0] as string}`
    const ticket = await ticketOf(relay)
    const alice = await cluster.start('alice', { args: ['--join', ticket] })
    const bob = await cluster.start('bob', { args: ['--join', ticket] })
    const aliceRelayed = await relayedAddr(alice, relayId, 30_000)
    await relayedAddr(bob, relayId, 30_000)

    // eight at a time, each from an address of its own (one at a time, 127 noise handshakes and 126 reservations took ~25 s)
    for (let i = 0; i < 127; i += 8) members.push(...await Promise.all(Array.from({ length: Math.min(8, 127 - i) }, async (_, j) => await member(relayAddr, `127.0.100.${2 + i + j}`))))
    for (let i = 0; i < 126; i += 8) {
      const statuses = await Promise.all(members.slice(i, Math.min(i + 8, 126)).map(async node => await reserve(node, relayAddr)))
      for (const status of statuses) assert.equal(status, HOP_OK)
    }
    assert.equal((await relay.status()).reach.relayServer.reservations, 128)
    const late = members[126] as Libp2p
    assert.equal(await reserve(late, relayAddr), HOP_RESERVATION_REFUSED, 'the 129th is refused')
    assert.equal(await reserve(members[0] as Libp2p, relayAddr), HOP_OK, 'one held is renewed')
    const connected = await bob.ctl(['connect', aliceRelayed])
    assert.equal(connected.code, 0, `bob still reaches alice through the relay: ${connected.stderr}`)

    // ten members leave: their slots are of no use to anyone (nobody can be relayed to a peer not connected)
    await Promise.all(members.slice(1, 11).map(async node => { await node.stop() }))
    await waitFor(async () => (await relay.status()).reach.relayServer.reservations === 118, 'the relay to free the slots of the members that left', 10_000)
    assert.equal(await reserve(late, relayAddr), HOP_OK, 'a member refused at the cap gets a slot once others left')

    // a member that leaves and comes back reserves again, and can be reached through the relay again
    assert.equal(await alice.stop(), 0)
    await waitFor(async () => (await relay.status()).reach.relayServer.reservations === 118, 'the relay to free alice\'s slot', 10_000)
    await alice.start({ args: ['--join', ticket] })
    await relayedAddr(alice, relayId, 30_000)
    const again = await bob.ctl(['connect', aliceRelayed])
    assert.equal(again.code, 0, `bob reaches alice through the relay again: ${again.stderr}`)
  })

  it('hop streams are at most 64 at once on each member\'s connection, not across the relay', async () => {
    const relay = await cluster.start('relay2', { args: ['--relay'] })
    const relayAddr = `${(await relay.status()).addrs[0] as string}`
    const [carol, dave] = [await member(relayAddr, '127.0.101.2'), await member(relayAddr, '127.0.101.3')]
    members.push(carol, dave)
    // streams that send nothing yet: the relay holds each open, waiting for its request (up to 15 s)
    const open = async (node: Libp2p): Promise<Stream> => await node.dialProtocol(multiaddr(relayAddr), RELAY_V2_HOP_CODEC, { maxOutboundStreams: 128 })
    const held: Stream[] = []
    for (let i = 0; i < 64; i++) held.push(await open(carol))
    const over = lpStream(await open(carol).catch(err => { throw new Error(`the 65th stream could not even open: ${(err as Error).message}`) }))
    await assert.rejects(async () => { await over.write(RESERVE); await over.read() }, 'carol\'s 65th is reset')
    assert.equal(await reserve(dave, relayAddr), HOP_OK, 'dave, on a connection of his own, is served meanwhile')
    const first = lpStream(held[0] as Stream)
    await first.write(RESERVE)
    assert.equal(hopStatus((await first.read()).subarray()), HOP_OK, 'one of carol\'s 64 is served')
    for (const stream of held) stream.abort(new Error('done'))
  })
})
