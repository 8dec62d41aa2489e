/**
 * Reach through NAT where libp2p's DCUtR and AutoNAT act (`netns-cluster.sh
 * nat6-up`): the same six hosts as nat.spec, on IPv6. The public segment is
 * 3fff::/20 (RFC 9637 documentation prefix, public and global unicast to
 * libp2p); LAN A and LAN B are unique local fd00::/8 networks (private to
 * libp2p), each behind its own nftables NAT66 router: Linux conntrack
 * masquerading, port-preserving, address- and port-dependent filtering,
 * nothing forwarded in, no UPnP or NAT-PMP.
 *
 * - AutoNAT: alice, a member on a public address, is dialled back by the
 *   relay and shows `reach: public`; bob, behind NAT A, shows `private`.
 * - DCUtR: alice reaches bob through the relay; bob, the inbound side of the
 *   relayed connection, dials her public address (DCUtR's unilateral
 *   upgrade), the relayed connection closes, and sync runs over the direct one.
 * - Two NATs: carol behind NAT B reaches bob through the relay. DCUtR does
 *   not even send a SYN: neither side has a public address to offer
 *   (js-libp2p's identify drops observed TCP addresses, js-libp2p#2620, so a
 *   node behind NAT knows none), so the test asserts they stay relayed, and
 *   converge that way.
 * - The relay is killed: alice and bob keep their direct connection and keep
 *   converging; carol, relayed only, converges once the relay is back.
 * - carol dials alice through the relay: alice, the inbound side, finds no
 *   public address of carol's and DCUtR gives up; murmur's direct upgrade
 *   (src/direct-upgrade.ts) has carol dial alice's public address instead.
 *
 * Needs root, iproute2 and nftables; skipped otherwise. All traffic stays
 * inside the namespaces the test makes. libp2p's DCUtR debug log is turned on
 * (DEBUG=libp2p:dcutr*) so the test can say what DCUtR did.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { logged, waitFor, type TestNode } from './harness.js'
import { has, NatGroup, ticketOf } from './nat-group.js'
import { NetnsCluster } from './netns.js'

const skip = NetnsCluster.available()
const [RELAY, ROUTER_A, LAN_A, ROUTER_B, LAN_B, PUBLIC] = [1, 2, 3, 4, 5, 6]
const DCUTR_LOG = { ...process.env, DEBUG: 'libp2p:dcutr*' }

async function peer (node: TestNode, id: string): Promise<any> {
  return (await node.json<any[]>(['peers'])).find(p => p.id === id)
}

async function lastSync (node: TestNode, from: string): Promise<number | undefined> {
  const at = (await node.status()).peerSync.find((p: any) => p.id === from)?.lastSync
  return at != null ? Date.parse(at) : undefined
}

/**
 * `from` dials `to` at its relayed address; resolves, once both hold a direct
 * connection to the other, to their entries for each other in `peers`.
 */
async function dialThroughRelay (to: TestNode, from: TestNode, relayed: string): Promise<{ onFrom: any, onTo: any }> {
  const [toId, fromId] = [(await to.status()).id, (await from.status()).id]
  const dial = await from.ctl(['connect', relayed])
  assert.equal(dial.code, 0, dial.stderr)
  return await waitFor(async () => {
    const [onFrom, onTo] = [await peer(from, toId), await peer(to, fromId)]
    return onFrom?.connection === 'direct' && onTo?.connection === 'direct' && { onFrom, onTo }
  }, `${from.name} and ${to.name} to hold a direct connection`, 30_000, 100)
}

/** libp2p's DCUtR log lines in a node's stderr from offset `from` on, without the timestamps. */
function dcutrLog (node: TestNode, from = 0): string[] {
  return node.stderr.slice(from).split('\n').filter(line => line.includes('libp2p:dcutr')).map(line => line.replace(/^\S+\s+/, ''))
}

describe('DCUtR and AutoNAT through NAT66 (network namespaces)', { skip }, () => {
  let group: NatGroup
  let net: NetnsCluster
  let relay: TestNode
  let alice: TestNode
  let bob: TestNode
  let carol: TestNode
  const ids = { relay: '', alice: '', bob: '', carol: '' }

  before(async () => {
    group = await NatGroup.create('nat6')
    net = group.net
  })
  after(async () => { await group?.close() })

  it('the NATs are real: LAN hosts reach the public segment, nothing reaches into a LAN', async () => {
    relay = await group.startRelay(RELAY)
    assert.equal(await net.probe(LAN_A, RELAY), true, 'LAN A reaches the relay through NAT A')
    assert.equal(await net.probe(LAN_B, RELAY), true, 'LAN B reaches the relay through NAT B')
    assert.equal(await net.probe(PUBLIC, LAN_A), false, 'a public host cannot reach into LAN A')
    assert.equal(await net.probe(LAN_B, LAN_A), false, 'LAN B cannot reach into LAN A')
    assert.equal(await net.probe(LAN_A, LAN_B), false, 'LAN A cannot reach into LAN B')
  })

  it('AutoNAT: a member on a public address is dialled back and shows public; one behind NAT shows private', async () => {
    const relayTicket = await ticketOf(relay)
    const started = Date.now()
    alice = await net.start(PUBLIC, 'alice', { args: ['--join', relayTicket], env: DCUTR_LOG })
    await waitFor(async () => (await alice.status()).reach.reachability === 'public', 'alice to show reach public', 30_000, 100)
    const aliceMs = Date.now() - started
    // bob pulls from a random member (the relay or alice) and quiet pulls back off up to the bound: at the
    // default bound (60 s) a pull from alice after the upgrade could take minutes to come; at 1 s it comes within seconds
    bob = await net.start(LAN_A, 'bob', { args: ['--join', relayTicket, '--anti-entropy-interval', '500', '--anti-entropy-max-interval', '1000'], env: DCUTR_LOG })
    // the relay asks each member that connects, if that member has an IPv6 address to show: alice had
    // none yet (hers was unconfirmed) when she connected; bob dials the relay back through NAT A
    await waitFor(async () => (await relay.status()).reach.reachability === 'public', 'the relay to show reach public', 30_000, 100)
    Object.assign(ids, { relay: (await relay.status()).id, alice: (await alice.status()).id, bob: (await bob.status()).id })
    await waitFor(async () => (await bob.status()).reach.relays.includes(ids.relay), 'bob to hold a reservation on the relay', 30_000, 100)
    assert.equal((await bob.status()).reach.reachability, 'private')
    assert.equal(await peer(bob, ids.alice), undefined, 'alice and bob have not met yet')
    console.log(`# alice's start (--join) to reach public: ${aliceMs} ms`)
  })

  it('alice reaches bob through the relay; DCUtR upgrades to a direct connection and sync runs over it', async () => {
    await alice.put('from-alice', 'a1')
    const bobRelayed = (await bob.status()).addrs.find((a: string) => a.includes(`/p2p/${ids.relay}/p2p-circuit`))
    const started = Date.now()
    await dialThroughRelay(bob, alice, bobRelayed)
    const upgradeMs = Date.now() - started
    // alice cannot dial into LAN A: the direct connection is bob's, out through NAT A; DCUtR then closes the relayed one
    const atRouter = (addrs: string[]): boolean => addrs.every(a => a.startsWith(`/ip6/${net.ip(ROUTER_A)}/tcp/`))
    const seen = await waitFor(async () => { const p = await peer(alice, ids.bob); return p != null && atRouter(p.addrs) && p }, 'alice to see bob only at router A\'s address', 10_000, 100)
    assert.ok(atRouter(seen.addrs), `alice sees bob only at router A's address: ${seen.addrs}`)
    assert.ok(dcutrLog(bob).some(line => /unilateral connection upgrade to \S+ succeeded/.test(line)), `bob's DCUtR log: ${dcutrLog(bob).join('\n')}`)
    await bob.put('from-bob', 'b1')
    await waitFor(async () => await has(alice, 'from-bob', 'b1') && await has(bob, 'from-alice', 'a1'), 'alice and bob to converge', 30_000, 100)
    const upgradedAt = Date.now()
    await waitFor(async () => ((await lastSync(bob, ids.alice)) ?? 0) > upgradedAt, 'bob to complete a sync pull from alice over the direct connection', 30_000, 200)
    assert.equal((await peer(bob, ids.alice)).connection, 'direct')
    console.log(`# alice's relayed dial to bob direct both ways (DCUtR unilateral upgrade): ${upgradeMs} ms`)
  })

  it('two NATs: carol (LAN B) reaches bob (LAN A) through the relay; DCUtR cannot punch, they stay relayed and converge', async () => {
    const mark = bob.stderr.length
    carol = await net.start(LAN_B, 'carol', { args: ['--join', await ticketOf(bob)], env: DCUTR_LOG })
    ids.carol = (await carol.status()).id
    await waitFor(async () => (await peer(carol, ids.bob))?.connection != null, 'carol to reach bob', 30_000, 100)
    // bob, the inbound side, tries the unilateral upgrade, then three hole punches
    await waitFor(() => dcutrLog(bob, mark).some(line => /attempt 3 of 3|succeeded/.test(line)), 'bob\'s DCUtR to finish', 60_000, 200)
    const outcome = [...dcutrLog(bob, mark).map(line => `bob: ${line}`), ...dcutrLog(carol).map(line => `carol: ${line}`)].filter(line => /dialable|unilateral|attempt|succeeded/.test(line))
    console.log(`# double NAT (conntrack NAT66, port-preserving, address- and port-dependent filtering), DCUtR:\n#   ${outcome.join('\n#   ')}`)
    const onCarol = await peer(carol, ids.bob)
    assert.equal(onCarol.connection, 'relayed', 'if DCUtR now punches through two NATs, update this test and the README')
    assert.equal(onCarol.relay, ids.relay)
    await carol.put('from-carol', 'c1')
    await waitFor(async () => await has(bob, 'from-carol', 'c1') && await has(carol, 'from-alice', 'a1'), 'carol to converge with bob and alice', 30_000, 100)
  })

  it('the relay is killed: alice and bob keep their direct connection and converge; carol converges once it returns', async () => {
    const before = (await peer(alice, ids.bob)).addrs
    assert.equal(await relay.stop('SIGKILL'), null)
    await alice.put('outage-alice', 'a2')
    await bob.put('outage-bob', 'b2')
    await waitFor(async () => await has(alice, 'outage-bob', 'b2') && await has(bob, 'outage-alice', 'a2'), 'alice and bob to converge without the relay', 30_000, 100)
    const onAlice = await peer(alice, ids.bob)
    assert.equal(onAlice.connection, 'direct')
    assert.deepEqual(onAlice.addrs, before, 'the same direct connection')
    const started = Date.now()
    relay = await group.startRelay(RELAY)
    await waitFor(async () => await has(carol, 'outage-alice', 'a2') && await has(carol, 'outage-bob', 'b2'), 'carol to converge after the relay returns', 90_000, 200)
    console.log(`# relay restarted to carol (relayed only) converged: ${Date.now() - started} ms`)
  })

  it('carol, behind NAT B, dials alice through the relay: DCUtR gives up, carol dials alice\'s public address herself', async () => {
    const aliceRelayed = await waitFor(async () => (await alice.status()).addrs.find((a: string) => a.includes(`/p2p/${ids.relay}/p2p-circuit`)), 'alice to hold a reservation on the restarted relay', 30_000, 100)
    assert.equal(await peer(carol, ids.alice), undefined, 'carol and alice have not met yet')
    const mark = alice.stderr.length
    const started = Date.now()
    await dialThroughRelay(alice, carol, aliceRelayed)
    console.log(`# carol's relayed dial to alice direct both ways (murmur's direct upgrade): ${Date.now() - started} ms; alice's DCUtR: ${dcutrLog(alice, mark).find(line => line.includes('dialable')) ?? 'no log line on dialable addresses'}`)
    const atRouter = (addrs: string[]): boolean => addrs.every(a => a.startsWith(`/ip6/${net.ip(ROUTER_B)}/tcp/`))
    const seen = await waitFor(async () => { const p = await peer(alice, ids.carol); return p != null && atRouter(p.addrs) && p }, 'alice to see carol only at router B\'s address', 10_000, 100)
    assert.ok(atRouter(seen.addrs), `alice sees carol only at router B's address: ${seen.addrs}`)
    await logged(carol, /dialled a peer reached through a relay directly/, 'carol dialled alice directly')
    await carol.put('from-carol-direct', 'c2')
    await waitFor(async () => await has(alice, 'from-carol-direct', 'c2'), 'carol\'s key to reach alice', 30_000, 100)
  })
})
