/**
 * A stranger in the group's DHT that answers every query with thousands of
 * made-up peers (README, Security). Kademlia takes each peer a FIND_NODE
 * answer names as discovered (libp2p keeps a peer-store record of each,
 * murmurd a dial candidate and a note of how it was found, for good) and
 * puts it in line for its routing table: one answer of 1.1 MB naming
 * 20,000 held a core of murmurd for minutes and grew it by ~340 MB a
 * minute. An answer now ends the connection past 16 KiB (bounded-yamux.ts),
 * and what murmurd keeps of peers neither connected nor members is bounded
 * (discovery.ts). Mallory (dht-mallory.ts) is a libp2p node in the test
 * process that answers every FIND_NODE with peers that do not exist.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { dhtMallory } from './dht-mallory.js'
import { MAX_PEER_RECORDS } from '../src/dht-store.js'
import { MAX_DHT_STREAM_BYTES } from '../src/libp2p-node.js'
import { MAX_FOUND } from '../src/discovery.js'
import { MAX_STRANGERS, STRANGER_DIALS_PER_SECOND } from '../src/strangers.js'
import { TestCluster, logged, waitFor, type TestNode } from './harness.js'
import { metricsUrl, scrape, value } from './prometheus.js'

/** Made-up peers in an answer that fits a DHT stream's bound (about 15.8 KiB), and answers of them. */
const UNDER_BOUND = 330
const ROUNDS = 4
/** Made-up peers in an answer of about 1.1 MB. */
const OVER_BOUND = 20_000

/** murmurd's resident memory, in MB. */
function rssOf (node: TestNode): number {
  const status = readFileSync(`/proc/${node.process?.pid as number}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024
}

/** What `node` holds of peers, from its metrics at `url`. */
async function heldBy (url: string): Promise<{ peerStore: number, dialer: number, found: number }> {
  const families = await scrape(url)
  return { peerStore: value(families, 'murmur_peers_held', { in: 'peer_store' }), dialer: value(families, 'murmur_peers_held', { in: 'dialer' }), found: value(families, 'murmur_peers_held', { in: 'found' }) }
}

/** Waits until mallory has answered `victim` `answers` times: murmurd asks its DHT peers every 10 s, and hangs up on a stranger that never joins the group (mallory then dials again). */
async function answered (mallory: { node: Libp2p, answers: () => number }, victim: TestNode, answers: number): Promise<void> {
  const addr = multiaddr(await victim.addr())
  await waitFor(async () => {
    if (mallory.answers() >= answers) return true
    if (mallory.node.getConnections().length === 0) await mallory.node.dial(addr).catch(() => {})
    return false
  }, `murmurd to ask mallory for peers ${answers} times`, 30_000 * answers, 500)
}

describe('a stranger that answers the group\'s DHT with made-up peers', { concurrency: true }, () => {
  const cluster = new TestCluster()
  const nodes: Libp2p[] = []
  after(async () => {
    for (const node of nodes) await Promise.resolve(node.stop()).catch(() => {})
    await cluster.close()
  })

  it(`has an answer over ${MAX_DHT_STREAM_BYTES / 1024} KiB end the connection before it is read: nothing it names is kept`, async () => {
    const victim = await cluster.start('victim1', { dht: true, args: ['--metrics', '127.0.0.1:0'] })
    const url = await metricsUrl(() => victim.stdout)
    const mallory = await dhtMallory(OVER_BOUND)
    nodes.push(mallory.node)
    await answered(mallory, victim, 2)
    await logged(victim, new RegExp(`over ${MAX_DHT_STREAM_BYTES} bytes on one /murmur/[0-9a-f]+/kad/1\\.0\\.0 stream`), 'murmurd to end the connection that brought the answer')
    const held = await heldBy(url)
    console.log(`# 2 answers naming ${OVER_BOUND} made-up peers each: murmurd holds ${JSON.stringify(held)}`)
    // its own record, and mallory's
    assert.ok(held.peerStore <= 4, `peer store records: ${held.peerStore}`)
    assert.ok(held.dialer <= 1, `dial candidates: ${held.dialer}`)
  })

  it(`keeps at most ${MAX_PEER_RECORDS} of those answers under the bound name in its peer store, ${MAX_STRANGERS} to dial and ${MAX_FOUND} notes, dials them ${STRANGER_DIALS_PER_SECOND} a second, and serves its group`, async () => {
    const started = Date.now()
    const victim = await cluster.start('victim2', { dht: true, args: ['--metrics', '127.0.0.1:0'] })
    const url = await metricsUrl(() => victim.stdout)
    const before = rssOf(victim)
    const mallory = await dhtMallory(UNDER_BOUND)
    nodes.push(mallory.node)
    await answered(mallory, victim, ROUNDS)
    // what the answers named is taken in (merged into the peer store, offered to the dialer) just after they came
    await waitFor(async () => (await heldBy(url)).peerStore > ROUNDS * UNDER_BOUND * 3 / 4, 'murmurd to take in the peers named', 30_000, 500)
    const held = await heldBy(url)
    const rss = rssOf(victim)
    console.log(`# ${mallory.answers()} answers naming ${UNDER_BOUND} made-up peers each: murmurd holds ${JSON.stringify(held)}; its RSS ${before.toFixed(0)} -> ${rss.toFixed(0)} MB`)
    // a few more than the bounds: records and notes taken since the last look (one look per 64), its own, mallory's
    assert.ok(held.peerStore <= MAX_PEER_RECORDS + 64 + 4, `peer store records: ${held.peerStore}`)
    assert.ok(held.dialer <= MAX_STRANGERS + 1, `dial candidates: ${held.dialer}`)
    assert.ok(held.found <= MAX_FOUND + 64 + 4, `notes of how peers were found: ${held.found}`)
    // the made-up peers are dialled one a second (after 8 at once), each failure said at debug level: before, ~25 a second, each a warning
    const failed = victim.stderr.split('\n').filter(line => line.includes('cannot reach peer; will retry'))
    const seconds = (Date.now() - started) / 1000
    console.log(`# in ${seconds.toFixed(0)} s murmurd dialled ${failed.length} made-up peers (${failed.filter(line => line.includes('"level":40')).length} warnings)`)
    assert.ok(failed.length <= seconds * STRANGER_DIALS_PER_SECOND + 8, `${failed.length} dials of made-up peers in ${seconds.toFixed(0)} s`)
    assert.equal(failed.filter(line => line.includes('"level":40')).length, 0, 'a failed dial of a peer the DHT named is a warning')

    // and it serves its group: a member joins and takes a write
    await victim.put('after-mallory', 'still here')
    const bob = await cluster.start('bob', { peers: [await victim.addr()] })
    await waitFor(async () => await bob.value('after-mallory') === 'still here', 'bob to take the write from the victim', 30_000)
  })
})
