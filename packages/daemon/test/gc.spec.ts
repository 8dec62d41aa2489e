/**
 * Tombstone garbage collection on real daemons: collected once every member
 * has attested to holding them, held back by a member that is away (until it
 * has been silent for the retention), and a node that returns after that
 * catches up from a snapshot instead of resurrecting the deleted keys.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { TestCluster, waitFor, type TestNode } from './harness.js'

const FAST_GC = ['--tombstone-grace', '1000', '--tombstone-retention', '8000', '--anti-entropy-interval', '500']

describe('tombstone garbage collection', () => {
  const cluster = new TestCluster()
  let alice: TestNode
  let bob: TestNode
  let dave: TestNode
  after(async () => { await cluster.close() })

  it('collects a tombstone on every node once all of them have seen it', async () => {
    alice = await cluster.start('alice', { args: FAST_GC })
    bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST_GC })
    dave = await cluster.start('dave', { peers: [await alice.addr()], args: FAST_GC })
    for (const key of ['gc:1', 'gc:2', 'gc:3', 'gc:4', 'keep']) await alice.put(key, 'v')
    await cluster.converged([alice, bob, dave], 5)
    assert.equal((await alice.ctl(['del', 'gc:4'])).code, 0)
    await waitFor(async () => {
      const all = await Promise.all([alice, bob, dave].map(async n => await n.status()))
      return all.every(s => s.tombstones === 0 && s.counters.collected === 1 && s.keys === 4)
    }, 'the gc:4 tombstone to be collected everywhere')
  })

  it('under steady writes a member attests at most once per tenth of the grace (1–10 s), not every second', async () => {
    // a 30 s grace: one attestation per 3 s at most. bob writes nothing but his attestations, so his own seq counts them
    const grace = ['--tombstone-grace', '30000']
    const writer = await cluster.start('writer', { args: grace })
    const quiet = await cluster.start('quiet', { peers: [await writer.addr()], args: grace })
    const quietId = (await quiet.status()).id
    await writer.put('steady:0', 'v')
    await waitFor(async () => ((await quiet.status()).versionVector[quietId] ?? 0) >= 1, 'quiet\'s first attestation')
    const started = Date.now()
    for (let i = 1; Date.now() - started < 4_500; i++) {
      await writer.put(`steady:${i}`, 'v') // about 10 writes a second, each reaching quiet
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    const elapsed = Date.now() - started
    const attested = ((await quiet.status()).versionVector[quietId] ?? 0) - 1
    // at one a second (the interval before) it made 4 or 5 in this window
    assert.ok(attested <= Math.floor(elapsed / 3_000) + 1, `quiet attested ${attested} times in ${elapsed} ms of writes`)
    assert.ok(attested >= 1, 'it still attests while writes arrive')
    await writer.stop()
    await quiet.stop()
  })

  it('keeps tombstones while a member is away, until it has been silent for the retention', async () => {
    assert.equal(await dave.stop(), 0)
    const deletedAt = Date.now()
    for (const key of ['gc:1', 'gc:2', 'gc:3']) assert.equal((await alice.ctl(['del', key])).code, 0)
    await waitFor(async () => (await bob.status()).keys === 1, 'the deletes to reach bob')
    const collectedAfter = await waitFor(async () => (await alice.status()).tombstones === 0 && Date.now() - deletedAt, 'retention to collect the tombstones', 20_000)
    // with dave away they are not stable: only the 8 s retention (not the 1 s grace) can collect them. The retention
    // counts from dave's last word, which may be a heartbeat (a quarter of the retention, 2 s) before it stopped
    assert.ok(collectedAfter >= 5_000, `collected after ${collectedAfter} ms, before the retention`)
    console.log(`# tombstones held ${collectedAfter} ms while a peer was away (grace 1000 ms, retention 8000 ms)`)
  })

  it('a node back after the horizon resyncs from a snapshot: no deleted key comes back, its offline writes survive', async () => {
    // an empty peer book and a new port: isolated until we connect it
    rmSync(join(dave.dataDir, 'peers.json'))
    await dave.start({ args: FAST_GC })
    assert.equal((await dave.ctl(['get', 'gc:1'])).stdout, 'v\n', 'dave still holds the values deleted while it was away')
    await dave.put('dave:offline', 'written while away')
    assert.equal((await dave.ctl(['connect', await alice.addr()])).code, 0)
    await cluster.converged([alice, bob, dave], 2, 20_000)
    for (const node of [alice, bob, dave]) {
      assert.equal((await node.ctl(['get', 'gc:1'])).code, 4, `gc:1 stays deleted on ${node.name}`)
      assert.equal((await node.ctl(['get', 'dave:offline'])).stdout, 'written while away\n')
    }
    assert.match(dave.stderr, /writing again what a snapshot or a peer's old ops showed: deletes of values deleted and collected while this node was away/)
  })
})

describe('a chain: collection waits for a member met only through another (hole 2)', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('charlie writes k while away, bob deletes it later and keeps the tombstone until charlie has seen it; k ends deleted everywhere', async () => {
    const args = ['--tombstone-grace', '1500', '--anti-entropy-interval', '300']
    // bob – alice – charlie: bob and charlie know only alice
    const alice = await cluster.start('alice', { args })
    const bob = await cluster.start('bob', { peers: [await alice.addr()], args })
    const charlie = await cluster.start('charlie', { peers: [await alice.addr()], args })
    await alice.put('k', 'original')
    await cluster.converged([alice, bob, charlie], 1)
    await waitFor(async () => (await bob.status()).replication.members === 3, 'bob to count charlie as a member, known through alice')
    // charlie goes away (back up alone, with no peers) and writes k
    assert.equal(await charlie.stop(), 0)
    rmSync(join(charlie.dataDir, 'peers.json'))
    await charlie.start({ args })
    await charlie.put('k', 'w-offline')
    // later, bob deletes k; well past the grace period, neither bob nor alice may collect it
    assert.equal((await bob.ctl(['del', 'k'])).code, 0)
    await waitFor(async () => (await alice.ctl(['get', 'k'])).code === 4, 'the delete to reach alice')
    const deletedAt = Date.now()
    while (Date.now() - deletedAt < 4_000) {
      for (const node of [alice, bob]) assert.equal((await node.status()).tombstones, 1, `${node.name} keeps the tombstone charlie has not seen`)
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    // charlie comes back through bob only
    assert.equal((await charlie.ctl(['connect', await bob.addr()])).code, 0)
    await waitFor(async () => {
      const all = await Promise.all([alice, bob, charlie].map(async node => await node.status()))
      return all.every(s => s.tombstones === 0 && s.keys === 0)
    }, 'the tombstone to be collected everywhere once charlie has seen it', 20_000)
    for (const node of [alice, bob, charlie]) assert.equal((await node.ctl(['get', 'k'])).code, 4, `k stays deleted on ${node.name}`)
    await waitFor(() => JSON.stringify(alice.rows()) === JSON.stringify(bob.rows()) && JSON.stringify(bob.rows()) === JSON.stringify(charlie.rows()), 'identical kv_store rows')
  })
})
