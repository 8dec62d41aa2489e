/**
 * murmur across a real (virtual) network: three hosts in Linux network
 * namespaces on one bridge, each running murmurd on its own address, with
 * links cut, a host isolated and packets dropped by nftables. Needs root,
 * iproute2 and nftables (scripts/install-test-deps.sh); skipped otherwise.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { waitFor, type TestNode } from './harness.js'
import { MURMUR_PORT, NetnsCluster } from './netns.js'

const skip = NetnsCluster.available()

/** How long a healed node may take to reconnect on its own before a test nudges it with `murmurctl connect`. */
const RECONNECT_PATIENCE_MS = 45_000

async function has (node: TestNode, key: string): Promise<boolean> {
  return (await node.ctl(['get', key])).code === 0
}

/** True when every node's kv_store holds the same rows, `count` of them user keys (the rest: members' attestations). */
function sameRows (nodes: TestNode[], count: number): boolean {
  const rows = nodes.map(node => node.rows())
  return nodes.every(node => node.userRows().length === count) && rows.every(r => JSON.stringify(r) === JSON.stringify(rows[0]))
}

describe('murmur across network namespaces', () => {
  let net: NetnsCluster
  let alice: TestNode
  let bob: TestNode
  let charlie: TestNode
  const all = (): TestNode[] => [alice, bob, charlie]
  let keys = 0

  async function put (node: TestNode, key: string, value: string, fresh = true): Promise<void> {
    await node.put(key, value)
    if (fresh) keys++
  }

  /**
   * Waits until every kv_store is identical; if `lagging` has not caught up
   * after RECONNECT_PATIENCE_MS, dials `target` from it once and waits again.
   */
  async function convergeAfterHeal (what: string, lagging: TestNode, target: number): Promise<void> {
    const started = Date.now()
    const converged = async (timeoutMs: number): Promise<boolean> =>
      await waitFor(() => sameRows(all(), keys), what, timeoutMs, 200).then(() => true, () => false)
    if (await converged(RECONNECT_PATIENCE_MS)) {
      console.log(`# ${what}: converged ${Date.now() - started} ms after healing, no nudge`)
      return
    }
    const connect = await lagging.ctl(['connect', net.addr(target)])
    assert.equal(connect.code, 0, connect.stderr)
    assert.ok(await converged(15_000), `${what}: no convergence even after murmurctl connect`)
    console.log(`# ${what}: converged ${Date.now() - started} ms after healing, NUDGED with murmurctl connect`)
  }

  before(async () => {
    if (skip != null) return
    net = await NetnsCluster.create(3)
    alice = await net.start(1, 'alice')
    bob = await net.start(2, 'bob', { peers: [net.addr(1)] })
    charlie = await net.start(3, 'charlie', { peers: [net.addr(1)] })
  })
  after(async () => { await net?.close() })

  it('three hosts on the bridge converge on writes made on each', { skip }, async () => {
    assert.match(await alice.addr(), new RegExp(`^/ip4/${net.ip(1).replaceAll('.', '\\.')}/tcp/${MURMUR_PORT}/p2p/`))
    await waitFor(async () => (await alice.status()).peers === 2, 'alice to see bob and charlie')
    await put(alice, 'lan:alice', 'a')
    await put(bob, 'lan:bob', 'b')
    await put(charlie, 'lan:charlie', 'c')
    await waitFor(() => sameRows(all(), keys), 'identical kv_store rows on the three hosts')
  })

  it('multicast crosses the bridge (the route mDNS needs)', { skip }, async () => {
    const receiver = spawn('ip', ['netns', 'exec', net.namespace(2), process.execPath, '-e', `
      const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true })
      s.on('message', (m, r) => { console.log(m.toString(), r.address); process.exit(0) })
      s.bind(5353, () => { s.addMembership('224.0.0.251', '${net.ip(2)}'); console.log('ready') })
      setTimeout(() => process.exit(1), 10000)`], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    receiver.stdout.on('data', (d: Buffer) => { output += d.toString() })
    const exited = new Promise(resolve => receiver.on('exit', resolve))
    await waitFor(() => output.startsWith('ready\n'), 'the receiver to join 224.0.0.251')
    // a few datagrams, since multicast over UDP is best-effort even on a bridge
    const send = await net.exec(1, process.execPath, ['-e', `
      const s = require('node:dgram').createSocket('udp4')
      let n = 0
      s.bind(() => {
        s.setMulticastInterface('${net.ip(1)}')
        const t = setInterval(() => { s.send('murmur-probe', 5353, '224.0.0.251'); if (++n === 5) { clearInterval(t); s.close() } }, 100)
      })`])
    assert.equal(send.code, 0, send.stderr)
    assert.equal(await exited, 0, 'no multicast datagram arrived')
    assert.equal(output, `ready\nmurmur-probe ${net.ip(1)}\n`)
  })

  it('cut stops traffic between two hosts both ways; heal restores it and the cluster converges', { skip }, async () => {
    assert.ok(await net.probe(2, 1), 'bob reaches alice before the cut')
    await net.cut(1, 2)
    try {
      assert.equal(await net.probe(2, 1), false, 'bob still reaches alice')
      assert.equal(await net.probe(1, 2), false, 'alice still reaches bob')
      assert.ok(await net.probe(3, 1), 'the cut must not affect charlie')
      // bob's only link is to alice: his write stays on his side, while alice's later write reaches charlie
      await put(bob, 'cut:bob', 'written during the cut')
      await put(alice, 'cut:alice', 'written during the cut')
      await waitFor(async () => await has(charlie, 'cut:alice'), 'alice\'s write to reach charlie')
      assert.equal(await has(alice, 'cut:bob'), false, 'bob\'s write crossed the cut')
      assert.equal(await has(bob, 'cut:alice'), false, 'alice\'s write crossed the cut')
      await net.heal(1, 2)
    } finally {
      await net.healAll() // a failed assertion must not leave the next tests partitioned
    }
    assert.ok(await net.probe(2, 1), 'bob reaches alice after heal')
    await convergeAfterHeal('after heal', bob, 1)
  })

  it('an isolated host keeps accepting writes; after rejoin every replica is identical', { skip }, async () => {
    await net.isolate(3)
    try {
      assert.equal(await net.probe(1, 3), false, 'alice still reaches charlie')
      assert.equal(await net.probe(3, 2), false, 'charlie still reaches bob')
      assert.ok(await net.probe(2, 1), 'alice and bob must stay connected')
      await put(charlie, 'iso:charlie', 'offline write')
      await put(charlie, 'iso:shared', 'charlie\'s side')
      await put(alice, 'iso:alice', 'majority write')
      await put(bob, 'iso:shared', 'majority side', false)
      await waitFor(async () => await has(bob, 'iso:alice') && (await alice.ctl(['get', 'iso:shared'])).stdout === 'majority side\n', 'the majority side to converge')
      assert.equal(await has(charlie, 'iso:alice'), false, 'a write reached the isolated host')
      assert.equal(await has(alice, 'iso:charlie'), false, 'the isolated host\'s write got out')
      // stay apart until libp2p gives up on the connection, so rejoining exercises redial and sync
      const since = Date.now()
      // its pings' bytes wait unacknowledged on the cut link: no backlog (tcp-sent.ts), so no longer than a ping timeout
      // or two (4.6-6 s; 25-28 s while any unacknowledged byte counted as one)
      await waitFor(async () => (await charlie.status()).peers === 0, 'charlie to notice it is alone', 20_000, 500)
      console.log(`# charlie dropped its connection ${Date.now() - since} ms after its writes`)
      await net.rejoin(3)
    } finally {
      await net.healAll()
    }
    await convergeAfterHeal('after rejoin', charlie, 1)
    const winner = (await charlie.ctl(['get', 'iso:shared'])).stdout
    assert.equal((await alice.ctl(['get', 'iso:shared'])).stdout, winner)
  })

  it('packet loss: 100 % blocks a host, 15 % only slows replication down', { skip }, async () => {
    try {
      await net.loss(2, 100)
      assert.equal(await net.probe(1, 2), false, 'a packet got through 100 % loss')
      await net.noloss(2)
      assert.ok(await net.probe(1, 2), 'alice reaches bob after noloss')
      await net.loss(2, 15)
      for (let i = 0; i < 5; i++) {
        await put(alice, `loss:alice:${i}`, String(i))
        await put(bob, `loss:bob:${i}`, String(i))
      }
      const started = Date.now()
      await waitFor(() => sameRows(all(), keys), 'convergence under 15 % loss on bob', 60_000, 200)
      console.log(`# converged under 15 % loss in ${Date.now() - started} ms`)
    } finally {
      await net.healAll()
    }
  })

  it('close() stops every murmurd and leaves no namespace behind', { skip }, async () => {
    await net.close()
    assert.deepEqual(net.leftovers(), [])
    for (const node of all()) assert.ok(node.process?.exitCode != null || node.process?.signalCode != null, `${node.name} still runs`)
  })
})

describe('mDNS discovery across network namespaces', () => {
  let net: NetnsCluster

  before(async () => {
    if (skip != null) return
    net = await NetnsCluster.create(2)
  })
  after(async () => { await net?.close() })

  it('two hosts with no --peer find each other by mDNS and replicate', { skip }, async () => {
    // mDNS only here: these namespaces are the only network the daemons can see
    const alice = await net.start(1, 'alice', { mdns: true })
    const bob = await net.start(2, 'bob', { mdns: true })
    const started = Date.now()
    await waitFor(async () => (await alice.status()).peers === 1 && (await bob.status()).peers === 1, 'alice and bob to discover each other', 30_000, 250)
    console.log(`# mDNS: connected ${Date.now() - started} ms after both started`)
    const found = [...await alice.json(['peers']), ...await bob.json(['peers'])].map(peer => peer.via)
    assert.ok(found.includes('mdns'), `neither side says it found the other by mDNS: ${found.join(', ')}`)
    await alice.put('found:by', 'mdns')
    await waitFor(async () => (await bob.ctl(['get', 'found:by'])).stdout === 'mdns\n', 'alice\'s write to reach bob')
  })
})
