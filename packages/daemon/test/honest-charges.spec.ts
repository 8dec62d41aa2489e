/**
 * Gossip's charges (gossip.ts) must never silence an honest node. Each op a
 * node checks and does not keep costs its writer one of 100 a second (1,000
 * at once); each op of a message that the node holds already costs the peer
 * that sent it one of its 5,000 messages a second (10,000 at once); while
 * either owes, messages are ignored unchecked (`throttledMessages`). Three
 * honest cases on real murmurd (127.0.0.1, mDNS and DHT off), each measured
 * as a user sees it: how long a put on one node takes to reach every other's
 * get, with anti-entropy once a minute, so a write gossip ignored shows as
 * seconds, not hidden by a pull; and no node may have throttled a message.
 *
 * (a) a node that wrote 3,000 keys while cut off comes back: its next
 *     writes reach peers that lack the earlier ones (they wait for a sync);
 * (b) in a line A–B–C, B relays A's writes to C, new, while C still lacks
 *     A's earlier ones (they wait for C's pull from B);
 * (c) a node back from a cut takes a writer's last seconds by sync. Restarted
 *     within 10 s of stopping, it used to be outside its peers' gossip mesh
 *     for a minute (gossip-restart.spec.ts), so their gossip offered it those
 *     seconds again (IHAVE → IWANT) and each op it held was charged to the
 *     peer that sent it; back in the mesh at once, it is offered none.
 *     (A member outside a mesh, in a group of more than 12, still is.)
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { MurmurClient } from '@murmur/protocol'
import { TestCluster, waitFor, type StartOptions, type TestNode } from './harness.js'
import { metricsUrl, scrape, value } from './prometheus.js'

const ARGS = ['--anti-entropy-interval', '60000', '--anti-entropy-max-interval', '60000', '--metrics', '127.0.0.1:0']
/** A put reaches a peer by gossip in tens of ms; a second or more means gossip lost it. */
const BOUND_MS = 1_500
/** Keys a node writes while cut off (a), or a writer while a peer is (c): 30 gossip messages, in about a second. */
const AWAY = 3_000

/** Writes `count` keys `${prefix}${i}` on `node` in JSON-RPC batches of `per` (a group commit and a gossip message each). */
async function burst (node: TestNode, prefix: string, count: number, per: number): Promise<void> {
  const client = await MurmurClient.connect(node.socket)
  try {
    for (let i = 0; i < count; i += per) {
      await client.batch(Array.from({ length: Math.min(per, count - i) }, (_, j) => ({ method: 'kv_put' as const, params: { key: `${prefix}${i + j}`, value: `value ${i + j}` } })))
    }
  } finally {
    client.close()
  }
}

/** Puts 10 keys on `writer`, one at a time, each once every reader holds the last; asserts each reached them all within the bound. */
async function reach (writer: TestNode, readers: TestNode[], prefix: string): Promise<void> {
  const took: number[] = []
  for (let i = 0; i < 10; i++) {
    const key = `${prefix}${i}`
    const started = Date.now()
    await writer.rpc('kv_put', { key, value: 'x' })
    await Promise.all(readers.map(async reader => await waitFor(async () => await reader.value(key) !== undefined, `${key} to reach ${reader.name}`, 30_000, 10)))
    took.push(Date.now() - started)
  }
  const what = `${writer.name}'s writes reached ${readers.map(r => r.name).join(' and ')}`
  console.log(`# ${what} in ${took.join(', ')} ms`)
  assert.ok(Math.max(...took) < BOUND_MS, `${what} in up to ${Math.max(...took)} ms`)
}

/** Prints the ops each node charged to senders and to writers, and asserts that none ignored a message for a spent allowance. */
async function noneThrottled (nodes: TestNode[]): Promise<void> {
  for (const node of nodes) {
    const families = await scrape(await metricsUrl(() => node.stdout))
    const charged = (to: string): number => value(families, 'murmur_gossip_ops_charged_total', { to })
    console.log(`# ${node.name} charged ${charged('sender')} ops to senders, ${charged('origin')} to writers`)
    assert.equal((await node.status()).counters.throttledMessages, 0, `gossip messages ${node.name} ignored for a spent allowance`)
  }
}

async function start (cluster: TestCluster, name: string, options: StartOptions = {}): Promise<TestNode> {
  return await cluster.start(name, { ...options, args: ARGS })
}

/** Three nodes, each linked to the others; then the last cut off: restarted alone, with an empty peer book and a new port. */
async function trioCutOff (cluster: TestCluster, names: [string, string, string]): Promise<[TestNode, TestNode, TestNode]> {
  const x = await start(cluster, names[0])
  const y = await start(cluster, names[1], { peers: [await x.addr()] })
  const z = await start(cluster, names[2], { peers: [await x.addr(), await y.addr()] })
  await waitFor(async () => (await z.status()).peers === 2, `${z.name} to meet ${x.name} and ${y.name}`)
  assert.equal(await z.stop(), 0)
  rmSync(join(z.dataDir, 'peers.json'))
  await start(cluster, z.name)
  return [x, y, z]
}

/** `node` dials `peers` again, at once (while gossip still offers the last seconds of messages: IHAVE). */
async function reconnect (node: TestNode, peers: TestNode[]): Promise<void> {
  await Promise.all(peers.map(async peer => await node.rpc('p2p_connect', { addr: await peer.addr() })))
}

describe('gossip charges and honest nodes', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('(a) a node back after writing 3,000 keys alone gets its next writes to every peer promptly', async () => {
    const [a, b, r] = await trioCutOff(cluster, ['a', 'b', 'r'])
    await burst(r, 'away/', AWAY, 100)
    // a and b lack the 3,000 keys until their pulls bring them
    await reconnect(r, [a, b])
    await waitFor(async () => (await Promise.all([a, b].map(async n => await n.value(`away/${AWAY - 1}`)))).every(v => v !== undefined), 'a and b to catch up', 60_000)
    await reach(r, [a, b], 'back/')
    await noneThrottled([a, b, r])
  })

  it('(b) in a line A–B–C, B relays A\'s writes to C while C lacks A\'s earlier ones: B\'s and A\'s next writes reach C promptly', async () => {
    const a = await start(cluster, 'la')
    const b = await start(cluster, 'lb', { peers: [await a.addr()] })
    await burst(a, 'line/', 20_000, 1_000)
    await waitFor(async () => await b.value('line/19999') !== undefined, 'the burst to reach b')
    // new: a node that restarts sends PRUNE as it leaves, and b then relays to it only by IHAVE, once a heartbeat
    // (~1 s a write, measured for over 12 s and under 65 s after), whatever the charges
    const c = await start(cluster, 'lc', { peers: [await b.addr()] })
    // at once: b relays these to c while c's pull from b is still bringing the first 20,000
    await burst(a, 'more/', 20_000, 1_000)
    await waitFor(async () => await c.value('more/19999') !== undefined, 'c to catch up', 60_000)
    assert.equal((await a.status()).peers, 1, 'a reaches c only through b')
    await reach(b, [a, c], 'b/')
    await reach(a, [b, c], 'a/')
    await noneThrottled([a, b, c])
  })

  it('(c) a node back from a cut takes a writer\'s last seconds by sync, and gossip brings it none of them again', async () => {
    const [w, b, c] = await trioCutOff(cluster, ['w', 'b2', 'c2'])
    await burst(w, 'burst/', AWAY, 100)
    // within the seconds w's gossip still offers the burst to a peer outside its mesh
    await reconnect(c, [w, b])
    await waitFor(async () => await c.value(`burst/${AWAY - 1}`) !== undefined, 'c2 to catch up', 60_000)
    await reach(w, [b, c], 'w/')
    await reach(b, [w, c], 'b2/')
    await noneThrottled([w, b, c])
    // c2 was in w's mesh at once: no IHAVE offered it the burst its first pulls brought (before: hundreds of ops)
    assert.equal(value(await scrape(await metricsUrl(() => c.stdout)), 'murmur_gossip_ops_charged_total', { to: 'sender' }), 0, 'c2 took ops by gossip that it held already')
  })
})
