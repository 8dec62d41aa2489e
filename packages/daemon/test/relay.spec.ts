/**
 * Circuit relay v2 among a group's own members, on real murmurd processes on
 * 127.0.0.1 (mDNS and DHT off): a member started with --relay serves
 * reservations to members, who advertise relayed addresses (in status and in
 * their tickets) and sync over relayed connections; a peer of another group
 * gets neither a reservation nor a relayed connection, and a peer that never
 * speaks murmur's sync (a bare libp2p node asking for a reservation) is
 * refused one once the relay has waited for its handshake. Loopback addresses
 * are private, so DCUtR and AutoNAT have nothing to do here: the namespace
 * test (nat.spec) puts nodes behind real NAT.
 */
import '../src/polyfill.js'
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeTicket } from '@murmur/protocol'
import { createLibp2p } from 'libp2p'
import { MEMBER_WAIT_MS } from '../src/relay.js'
import { RESERVE, hopStatus, relayedAddr, ticketOf } from './relaying.js'
import { TestCluster, waitFor, type TestNode } from './harness.js'

const cluster = new TestCluster()
after(async () => { await cluster.close() })

describe('circuit relay among members', () => {
  let relay: TestNode
  let relayId: string
  let alice: TestNode
  let bob: TestNode
  let aliceRelayed: string

  it('members joined with the relay\'s ticket reserve on it and advertise relayed addresses, in status and tickets', async () => {
    relay = await cluster.start('relay', { args: ['--relay'] })
    relayId = (await relay.status()).id
    const ticket = await ticketOf(relay)
    alice = await cluster.start('alice', { args: ['--join', ticket] })
    bob = await cluster.start('bob', { args: ['--join', ticket] })
    aliceRelayed = await relayedAddr(alice, relayId)
    await relayedAddr(bob, relayId)
    await waitFor(async () => (await relay.status()).reach.relayServer?.reservations === 2, 'the relay to hold two reservations')
    const status = await alice.status()
    assert.equal(status.reach.reachability, 'private', 'loopback addresses are private')
    assert.equal(status.reach.relayServer, undefined, 'alice does not serve as a relay')
    assert.ok(decodeTicket(await ticketOf(alice)).addrs.includes(aliceRelayed), 'alice\'s ticket carries her relayed address')
    assert.match((await alice.ctl(['status'])).stdout, /reserved on relay /)
  })

  it('two members connect through the relay, see the connection as relayed, and sync over it', async () => {
    const aliceId = (await alice.status()).id
    const bobId = (await bob.status()).id
    const connected = await bob.ctl(['connect', aliceRelayed])
    assert.equal(connected.code, 0, connected.stderr)
    const seen = await waitFor(async () => (await bob.json<any[]>(['peers'])).find(p => p.id === aliceId && p.member), 'bob to see alice as a member')
    assert.equal(seen.connection, 'relayed')
    assert.equal(seen.relay, relayId)
    assert.match((await bob.ctl(['peers'])).stdout, new RegExp(`${aliceId}  alice  member  explicit  relayed:${relayId}`))
    // a pull from alice, over the only connection bob has to her: the relayed one
    await alice.put('over-the-relay', 'yes')
    await waitFor(async () => (await bob.status()).peerSync.find((p: any) => p.id === aliceId)?.lastSync != null, 'bob to complete a sync pull from alice')
    await waitFor(async () => await bob.value('over-the-relay') === 'yes', 'alice\'s write to reach bob')
    const onAlice = (await alice.json<any[]>(['peers'])).find(p => p.id === bobId)
    assert.equal(onAlice?.connection, 'relayed')
  })

  it('a peer of another group gets no reservation and no relayed connection', async () => {
    const mallory = await cluster.start('mallory', { group: 'other', peers: [(await relay.status()).addrs[0]] })
    await waitFor(async () => (await mallory.json<any[]>(['peers'])).some(p => p.id === relayId), 'mallory to connect to the relay')
    const dial = await mallory.ctl(['connect', aliceRelayed])
    assert.equal(dial.code, 1, `the relay must refuse to relay a stranger: ${dial.stdout}${dial.stderr}`)
    assert.match(dial.stderr, /DialError/)
    assert.deepEqual((await mallory.status()).reach.relays, [])
    assert.equal((await relay.status()).reach.relayServer.reservations, 2)
    assert.equal((await alice.json<any[]>(['peers'])).some(p => p.id === (mallory as any).id), false)
  })

  it('a peer that connects but never shows itself a member (no sync handshake) is refused a reservation once the wait is over', async () => {
    const silent = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() } })
    try {
      const before = (await relay.status()).reach.relayServer.reservations
      const asked = Date.now()
      const stream = await silent.dialProtocol(multiaddr((await relay.status()).addrs[0]), RELAY_V2_HOP_CODEC)
      const lp = lpStream(stream)
      await lp.write(RESERVE)
      const status = hopStatus((await lp.read()).subarray())
      const waited = Date.now() - asked
      assert.notEqual(status, undefined, 'the relay answers with a status')
      assert.notEqual(status, 100, 'not OK: no reservation for a peer that never named the group')
      assert.ok(waited >= MEMBER_WAIT_MS - 1_000, `refused once the relay had waited for a handshake (${waited} ms), not before`)
      assert.equal((await relay.status()).reach.relayServer.reservations, before)
    } finally {
      await silent.stop()
    }
  })
})
