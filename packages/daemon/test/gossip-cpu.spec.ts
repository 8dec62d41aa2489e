/**
 * The CPU a member can make a node spend on gossip, on real murmurd: a
 * hostile member (test/attacker.ts) signs 2,000 ops of its own one at a time
 * (2,000 batches, 2,000 signatures), has them taken once, then publishes them
 * again 30 times, shuffled so gossipsub sees a new message each time. They
 * change nothing, yet each cost the receiver a signature check per op: 7.0 s
 * of murmurd's CPU for the 30 on this machine, for as long as the member went
 * on: 10.7 times what taking the ops once cost in the same run (with the
 * check of held ops put back). Now that ops held already are not checked (and
 * cost the sender's allowance), the 30 cost 0.6-1.2 s, 0.9-1.8 times taking
 * them once (0.6-0.8 s): the bound is 4 times. An honest write from another
 * node must still arrive promptly meanwhile.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { proveOps, type Op } from '@murmur/core'
import { Attacker, freshWriter } from './attacker.js'
import { TestCluster, cpuSeconds, waitFor, type TestNode } from './harness.js'

function shuffled (ops: Op[]): Op[] {
  const out = [...ops]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j] as Op, out[i] as Op]
  }
  return out
}

/**
 * Waits until `node` has been through what `mallory` sent so far: gossip from one peer is taken in order, so once it
 * takes a new op sent after the rest, it has been through them (a new one every half second, with those before it:
 * its limit on mallory may ignore some). `after`: the seq of mallory's ops the new ones follow.
 */
async function throughReplays (mallory: Attacker, node: TestNode, after: number): Promise<void> {
  const since: Op[] = []
  await waitFor(async () => {
    const key = `m:${after + since.length + 1}`
    since.push(mallory.op(key, 'x', { logical: after + since.length + 1, seq: after + since.length + 1 }))
    await mallory.publish(since)
    return await waitFor(async () => (await node.ctl(['get', key])).code === 0, key, 500).catch(() => false)
  }, `${node.name} to take a new op sent after the replays`, 120_000)
}

const OPS = 2_000
const REPLAYS = 30

describe('a member replays its own ops by gossip, reordered', () => {
  const cluster = new TestCluster()
  let mallory: Attacker | undefined
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('costs the node little CPU, and an honest write still arrives promptly', async () => {
    const alice = await cluster.start('alice')
    const bob = await cluster.start('bob', { peers: [await alice.addr()] })
    await waitFor(async () => (await alice.status()).peers === 1, 'bob to connect to alice')
    mallory = await Attacker.start()
    await mallory.dial(await alice.addr())
    const ops: Op[] = []
    for (let i = 1; i <= OPS; i++) ops.push(mallory.op(`m:${i}`, 'x', { logical: i }))
    const pid = alice.process?.pid as number
    const beforeTaking = cpuSeconds(pid)
    // taken once, in order: each checked once, as any new op is
    for (let i = 0; i < OPS; i += 500) await mallory.publish(ops.slice(i, i + 500))
    await waitFor(async () => (await alice.ctl(['get', `m:${OPS}`])).code === 0, 'alice to take mallory\'s ops', 60_000)

    const aliceId = (await alice.status()).id as string
    const before = cpuSeconds(pid)
    const taking = before - beforeTaking
    const started = Date.now()
    const honest = (async () => {
      await bob.put('honest', 'yes')
      await waitFor(async () => (await alice.ctl(['get', 'honest'])).stdout === 'yes\n', 'bob\'s write to reach alice during the replays', 60_000)
      return Date.now() - started
    })()
    for (let i = 0; i < REPLAYS; i++) await mallory.publishPaced(shuffled(ops), aliceId)
    await throughReplays(mallory, alice, OPS)
    const spent = cpuSeconds(pid) - before
    const took = await honest
    console.log(`alice spent ${spent.toFixed(2)} s of CPU on ${REPLAYS} replays of ${OPS} ops in ${Date.now() - started} ms (${(spent / taking).toFixed(1)} times taking them once, ${taking.toFixed(2)} s); bob's write took ${took} ms`)
    assert.ok(spent < 4 * taking, `alice spent ${spent.toFixed(2)} s of CPU on ${REPLAYS} replays of ${OPS} ops, ${(spent / taking).toFixed(1)} times the ${taking.toFixed(2)} s taking them once cost`)
    assert.ok(took < 5_000, `bob's write took ${took} ms to reach alice`)
  })
})

/**
 * Ops a node checks and does not keep: 2,000 of one member's, each signed
 * alone, all for its first seq and stamped two hours ahead (past the hour a
 * node holds such ops), so each is refused by the clock once checked. Held
 * nowhere, they were checked again on every replay and cost no one
 * anything: 30 replays took alice 12-16 s of CPU, 22 times what refusing
 * them the first time cost in the same run (with the gate below taken out).
 * Each now costs its origin one of 100 a second (1,000 at once), and
 * messages holding an origin's ops are ignored unchecked while it owes:
 * the replays (and the ten seconds until mallory has paid and a new op of
 * hers is taken) cost 0.5-0.9 s, 0.4-0.9 times refusing the ops once
 * (0.7-1.5 s), measured in the same run: the bound is 3 times. (A bound of
 * 2 s on the whole failed in CI at 2.22 s.)
 */
describe('a member replays ops the node refuses once checked, reordered', () => {
  const cluster = new TestCluster()
  let mallory: Attacker | undefined
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('costs the node little CPU', async () => {
    const alice = await cluster.start('alice')
    mallory = await Attacker.start()
    await mallory.dial(await alice.addr())
    const ahead = Date.now() + 2 * 3_600_000
    const ops: Op[] = []
    for (let i = 1; i <= OPS; i++) ops.push(mallory.op(`f:${i}`, 'x', { seq: 1, wall: ahead, logical: i }))
    const aliceId = (await alice.status()).id as string
    const pid = alice.process?.pid as number
    const before = cpuSeconds(pid)
    const started = Date.now()
    await mallory.publishPaced(ops, aliceId)
    await waitFor(async () => (await alice.status()).counters.rejected >= OPS, 'alice to refuse mallory\'s ops once', 60_000)
    const refusing = cpuSeconds(pid) - before
    for (let i = 0; i < REPLAYS; i++) await mallory.publishPaced(shuffled(ops), aliceId)
    await throughReplays(mallory, alice, 0)
    const spent = cpuSeconds(pid) - before - refusing
    console.log(`alice spent ${refusing.toFixed(2)} s of CPU on ${OPS} refused ops and ${spent.toFixed(2)} s (${(spent / refusing).toFixed(1)} times) on ${REPLAYS} replays of them, in ${Date.now() - started} ms`)
    assert.ok(spent < 3 * refusing, `alice spent ${spent.toFixed(2)} s of CPU on ${REPLAYS} replays of ${OPS} refused ops, ${(spent / refusing).toFixed(1)} times the ${refusing.toFixed(2)} s refusing them once cost`)
  })
})

/**
 * A message is checked a signature a batch, and a peer that signs each op
 * alone makes one message of thousands of batches: 10,000 took 1.4 s of
 * murmurd's CPU, and cost the sender one token of its 5,000 a second (10,000
 * at once). Here the ops are each of a fresh writer (their origins owe
 * nothing) and wait past a gap (seq 2 on), so nothing else stops them. Each
 * batch checked past a message's first now costs its sender one more, and a
 * message its allowance cannot pay is ignored unchecked: one of 15,000
 * batches (1.4 MB), while one of 4,000 is checked.
 */
describe('a peer sends messages of thousands of batches, each op signed alone', () => {
  const cluster = new TestCluster()
  let mallory: Attacker | undefined
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  /** `count` ops of a fresh writer from seq 2 (its seq 1 never comes), each signed alone. */
  async function signedAlone (count: number): Promise<Op[]> {
    const { origin, sign } = await freshWriter()
    const base = Date.now()
    return Array.from({ length: count }, (_, i) => {
      const op: Op = { key: `${origin.slice(-6)}:${i}`, value: Buffer.from('x'), wall: base + i, logical: 0, origin, seq: 2 + i }
      proveOps([op], sign)
      return op
    })
  }

  it('has one it cannot pay for ignored unchecked, and one it can checked', async () => {
    const alice = await cluster.start('alice')
    mallory = await Attacker.start()
    await mallory.dial(await alice.addr())
    const aliceId = (await alice.status()).id as string
    const over = await signedAlone(15_000)
    const within = await signedAlone(4_000)
    const pid = alice.process?.pid as number
    const before = cpuSeconds(pid)
    await mallory.publishPaced(over, aliceId)
    await mallory.publishPaced(within, aliceId)
    // a new op of mallory's own, once taken, shows alice has been through both (gossip from one peer is taken in order)
    await throughReplays(mallory, alice, 0)
    const spent = cpuSeconds(pid) - before
    const { waiting } = (await alice.status()).replication
    console.log(`# messages of 15,000 and 4,000 ops signed alone: ${waiting} checked and waiting; alice spent ${spent.toFixed(2)} s of CPU`)
    assert.equal(waiting, within.length, 'only the message of 4,000 was checked')
  })
})
