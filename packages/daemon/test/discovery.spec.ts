/**
 * Zero-config discovery on hosts made of network namespaces (never the
 * machine's own network): mDNS alone, the DHT along a line of peers, the
 * peer book after a full restart, and groups that share a LAN but not data.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { NetnsCluster } from './netns.js'
import { waitFor, type TestNode } from './harness.js'

const skip = NetnsCluster.available() ?? false

/** Waits until `node` has `count` connected group members; returns `murmurctl peers --json`. */
async function members (node: TestNode, count: number, timeoutMs = 20_000): Promise<Array<{ id: string, name?: string, member: boolean, via?: string }>> {
  return await waitFor(async () => {
    const peers = await node.json<Array<{ id: string, name?: string, member: boolean, via?: string }>>(['peers'])
    const unique = new Map(peers.filter(p => p.member).map(p => [p.id, p]))
    return unique.size === count ? [...unique.values()] : undefined
  }, `${node.name} to have ${count} group members`, timeoutMs)
}

describe('discovery (network namespaces)', { skip }, () => {
  const clusters: NetnsCluster[] = []
  after(async () => { await Promise.all(clusters.map(async c => await c.close())) })

  it('mDNS alone: three hosts with no --peer find each other and converge on the reference scenario', async () => {
    const net = await NetnsCluster.create(3)
    clusters.push(net)
    const started = Date.now()
    const [alice, bob, charlie] = await Promise.all(['alice', 'bob', 'charlie'].map(async (name, i) => await net.start(i + 1, name, { mdns: true })))
    for (const node of [alice, bob, charlie] as TestNode[]) {
      const peers = await members(node, 2)
      assert.ok(peers.every(p => p.via === 'mdns' || p.via === 'inbound'), JSON.stringify(peers))
    }
    console.log(`# mDNS: three hosts fully connected ${Date.now() - started} ms after start`)
    const writes: Array<[TestNode, Array<[string, string]>]> = [
      [alice as TestNode, [['project:name', 'MyAwesomeProject'], ['project:version', '1.0.0'], ['db:host', 'localhost'], ['db:port', '5432'], ['user:alice', 'alice']]],
      [bob as TestNode, [['project:version', '1.1.0'], ['api:endpoint', 'https://api.example.com'], ['api:timeout', '30'], ['user:bob', 'bob']]],
      [charlie as TestNode, [['db:port', '3306'], ['cache:enabled', 'true'], ['cache:ttl', '3600'], ['user:charlie', 'charlie']]]
    ]
    for (const [node, entries] of writes) for (const [key, value] of entries) await node.put(key, value)
    await Promise.all([(alice as TestNode).put('counter', '100'), (bob as TestNode).put('counter', '200')])
    const list = await net.nodes.converged([alice, bob, charlie] as TestNode[], 12)
    assert.match(list, /^db:port = 3306$/m)
    assert.match(list, /^project:version = 1\.1\.0$/m)
    await waitFor(() => {
      const rows = [alice, bob, charlie].map(node => JSON.stringify((node as TestNode).rows()))
      return rows.every(r => r === rows[0])
    }, 'identical kv_store rows')
  })

  it('mDNS with --peer-links 2: six hosts each dial at most two of the others, and the group still converges', async () => {
    const net = await NetnsCluster.create(6)
    clusters.push(net)
    const nodes = await Promise.all(['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map(async (name, i) => await net.start(i + 1, name, { mdns: true, args: ['--peer-links', '2'] })))
    const dialled = async (): Promise<number[]> => await Promise.all(nodes.map(async node => (await node.json<Array<{ member: boolean, dialled?: boolean }>>(['peers'])).filter(p => p.member && p.dialled === true).length))
    // fifteen pairs: dialling every host it finds (as before), some host dials three or more
    await waitFor(async () => (await dialled()).every(n => n >= 1), 'every host to dial another', 20_000)
    for (const [i, node] of nodes.entries()) await node.put(`from:${node.name}`, String(i))
    await net.nodes.converged(nodes, 6, 30_000)
    const counts = await dialled()
    assert.ok(counts.every(n => n >= 1 && n <= 2), `dialled per host: ${counts.join(', ')}`)
  })

  it('DHT: in a line a–b–c where c knows only b, c finds and connects to a', async () => {
    const net = await NetnsCluster.create(3)
    clusters.push(net)
    const a = await net.start(1, 'a', { dht: true })
    const b = await net.start(2, 'b', { dht: true, peers: [net.addr(1)] })
    await members(b, 1)
    const started = Date.now()
    const c = await net.start(3, 'c', { dht: true, peers: [net.addr(2)] })
    const peers = await members(c, 2)
    const aId = (await a.status()).id
    assert.equal(peers.find(p => p.id === aId)?.via, 'dht', JSON.stringify(peers))
    console.log(`# DHT: c connected to a ${Date.now() - started} ms after start, knowing only b`)

    // the peer book: stop all three, restart with no --peer and no discovery at all
    for (const node of [a, b, c]) assert.equal(await node.stop(), 0)
    const restarted = Date.now()
    for (const [i, node] of [a, b, c].entries()) await node.start({ listen: net.addr(i + 1), prefix: ['ip', 'netns', 'exec', net.namespace(i + 1)] })
    for (const node of [a, b, c]) {
      const again = await members(node, 2)
      assert.ok(again.some(p => p.via === 'peerbook'), `${node.name} redialled from its peer book: ${JSON.stringify(again)}`)
    }
    console.log(`# peer book: all three reconnected ${Date.now() - restarted} ms after a full restart with no flags`)
  })

  it('groups on one LAN do not exchange data, even when dialled directly', async () => {
    const net = await NetnsCluster.create(3)
    clusters.push(net)
    const x1 = await net.start(1, 'x1', { mdns: true, group: 'team-x' })
    const x2 = await net.start(2, 'x2', { mdns: true, group: 'team-x' })
    const y1 = await net.start(3, 'y1', { mdns: true, group: 'team-y', peers: [net.addr(1)] })
    await members(x1, 1)
    await x1.put('secret', 'for team x')
    await y1.put('other', 'for team y')
    await net.nodes.converged([x1, x2], 1)
    // y1 dials x1 and stays connected, but the sync handshake refuses it and the gossip topics differ
    await waitFor(async () => (await y1.json<any[]>(['peers'])).some(p => !p.member), 'y1 to connect to x1 as a non-member')
    await waitFor(() => /refused sync: this node serves group \\?"team-x/.test(y1.stderr), 'the group mismatch to be logged')
    assert.equal((await y1.ctl(['get', 'secret'])).code, 4)
    assert.equal((await x1.ctl(['get', 'other'])).code, 4)
    assert.equal((await x2.ctl(['get', 'other'])).code, 4)
    assert.equal((await y1.status()).peers, 0)
    assert.equal((await x1.status()).peers, 1, 'x1 counts only x2 as a member')
  })
})
