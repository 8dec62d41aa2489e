/**
 * Reach through NAT, in Linux network namespaces (`netns-cluster.sh nat-up`):
 * alice and bob sit on two private LANs, each behind its own nftables
 * masquerading router; a relay member and a stranger sit on the "public"
 * segment between the routers. alice and bob join with tickets only, meet
 * through the relay and converge; the relay is killed and comes back; a
 * stranger with a forged ticket reaches no one, and a stale ticket is
 * refused. Needs root, iproute2 and nftables (scripts/install-test-deps.sh);
 * skipped otherwise. All traffic stays inside the namespaces the test makes.
 *
 * The NAT built: Linux conntrack masquerading, port-preserving, with address-
 * and port-dependent filtering (only replies to connections the LAN opened
 * come in), no port forwarding, no UPnP or NAT-PMP. Its "public" segment is
 * 100.64.0.0/10 (shared address space), which libp2p counts as private, as
 * it does every range reserved for tests: so DCUtR and AutoNAT, which act on
 * public addresses only, do not try, and alice and bob stay relayed. The
 * test says so, and fails if that changes.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { decodeTicket, encodeTicket } from '@murmur/protocol'
import { MURMURD, waitFor, type TestNode } from './harness.js'
import { has, NatGroup, ticketOf } from './nat-group.js'
import { NetnsCluster } from './netns.js'

const skip = NetnsCluster.available()
const [RELAY, LAN_A, LAN_B, STRANGER] = [1, 3, 5, 6]

describe('reach through NAT (network namespaces)', { skip }, () => {
  let group: NatGroup
  let net: NetnsCluster
  let relay: TestNode
  let alice: TestNode
  let bob: TestNode
  let relayId: string
  let aliceId: string
  let relayTicket: string
  let aliceRelayed: string

  before(async () => {
    group = await NatGroup.create('nat')
    net = group.net
  })
  after(async () => { await group?.close() })

  it('the NATs are real: no LAN host is reachable from outside its LAN', async () => {
    relay = await group.startRelay(RELAY)
    relayId = (await relay.status()).id
    assert.equal(await net.probe(LAN_A, RELAY), true, 'alice reaches the relay through NAT A')
    assert.equal(await net.probe(RELAY, LAN_A), false, 'nothing on the public segment reaches alice')
    assert.equal(await net.probe(LAN_B, LAN_A), false, 'bob cannot reach alice directly')
  })

  it('alice joins with the relay\'s ticket, reserves on it, and her own ticket carries her relayed address', async () => {
    relayTicket = await ticketOf(relay)
    alice = await net.start(LAN_A, 'alice', { args: ['--join', relayTicket] })
    aliceId = (await alice.status()).id
    aliceRelayed = await waitFor(async () => (await alice.status()).addrs.find((a: string) => a.includes(`/p2p/${relayId}/p2p-circuit`)), 'alice to hold a reservation on the relay', 30_000)
    const onRelay = (await relay.json<any[]>(['peers'])).find(p => p.id === aliceId)
    assert.ok(onRelay?.addrs.some((a: string) => a.startsWith(`/ip4/${net.ip(2)}/`)), `the relay sees alice at router A's address: ${onRelay?.addrs}`)
    assert.equal((await alice.status()).reach.reachability, 'private')
    assert.ok(decodeTicket(await ticketOf(alice)).addrs.includes(aliceRelayed))
  })

  it('bob joins with alice\'s ticket only, reaches her through the relay, and both converge', async () => {
    await alice.put('from-alice', 'a1')
    const started = Date.now()
    bob = await net.start(LAN_B, 'bob', { args: ['--join', await ticketOf(alice)] })
    await waitFor(async () => await has(bob, 'from-alice', 'a1'), 'alice\'s key to reach bob', 60_000, 100)
    const firstSyncMs = Date.now() - started
    await bob.put('from-bob', 'b1')
    await waitFor(async () => await has(alice, 'from-bob', 'b1'), 'bob\'s key to reach alice', 30_000, 100)
    const seen = await waitFor(async () => (await bob.json<any[]>(['peers'])).find(p => p.id === aliceId && p.member), 'bob to hold alice as a member', 30_000)
    console.log(`# bob's start (--join with alice's ticket) to alice's key on bob: ${firstSyncMs} ms; bob's connection to alice: ${seen.connection}${seen.relay != null ? ` via ${seen.relay}` : ''}; DCUtR upgraded: ${seen.connection === 'direct' ? 'yes' : 'no (the addresses are private to libp2p, so it does not try)'}`)
    assert.equal(seen.connection, 'relayed', 'with private addresses on both sides DCUtR cannot upgrade: if it now does, update this test and the README')
    assert.equal(seen.relay, relayId)
    // bob has pulled from alice herself, over the only connection he has to her: the relayed one
    await waitFor(async () => (await bob.status()).peerSync.find((p: any) => p.id === aliceId)?.lastSync != null, 'bob to complete a sync pull from alice', 30_000)
  })

  it('the relay is killed: both keep writing, and converge once it returns', async () => {
    assert.equal(await relay.stop('SIGKILL'), null)
    await alice.put('outage-alice', 'a2')
    await bob.put('outage-bob', 'b2')
    const started = Date.now()
    relay = await group.startRelay(RELAY)
    await waitFor(async () => await has(bob, 'outage-alice', 'a2') && await has(alice, 'outage-bob', 'b2'), 'alice and bob to converge after the relay returns', 90_000, 200)
    console.log(`# relay restarted to alice and bob converged: ${Date.now() - started} ms`)
  })

  it('a stranger with a forged ticket reaches no one; a stale ticket is refused', async () => {
    const genuine = decodeTicket(relayTicket)
    const forged = encodeTicket({ ...genuine, swarmKey: randomBytes(32) })
    const mallory = await net.start(STRANGER, 'mallory', { args: ['--join', forged] })
    const dial = await mallory.ctl(['connect', aliceRelayed])
    assert.equal(dial.code, 1, `a relayed dial to alice must fail: ${dial.stdout}${dial.stderr}`)
    const direct = await mallory.ctl(['connect', (await relay.status()).addrs[0]])
    assert.equal(direct.code, 1, 'the relay refuses a peer without the key')
    assert.deepEqual(await mallory.json(['peers']), [])
    assert.deepEqual((await mallory.status()).reach.relays, [])
    assert.equal((await relay.status()).reach.relayServer.reservations, 2, 'only alice and bob hold reservations')
    const stale = encodeTicket({ ...genuine, expires: Date.now() - 60_000 })
    const refused = await net.exec(STRANGER, process.execPath, [MURMURD, '--name', 'eve', '--data-dir', join(net.nodes.dir, 'eve'), '--no-mdns', '--no-dht', '--join', stale])
    assert.equal(refused.code, 2, refused.stderr)
    assert.match(refused.stderr, /expired/)
  })
})
