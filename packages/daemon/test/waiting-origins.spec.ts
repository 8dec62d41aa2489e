/**
 * A member of an open group may sign each op it sends as an origin of its own
 * (an Ed25519 key costs nothing) and send each past a gap that never fills:
 * every one waits, within the budget for waiting ops (64 MiB), 30,000 of them
 * here. Before, each op that then had to evict one looked at every origin that
 * waited to find the largest (0.54 ms of murmurd's CPU an op here, against
 * 0.04 ms now; 14 ms at the ~360,000 small ops the budget holds), and the
 * replica looked at every one of them again each second (~375 ms at 300,000).
 * Now both are found in heaps (core's `PendingOps`): the ops that follow cost
 * murmurd what decoding and checking them does. Past the budget, origins the
 * node holds nothing of go first: an honest writer's ops waiting past its gap,
 * the largest origin there, are all still there when the gap is filled.
 *
 * The same member may instead send many ops of one origin past its gap, then
 * more of them one a frame. Each frame's op drains its origin, which asked for
 * the waiting seqs at or below what the node holds of it (none here) with a
 * pass over all of them: 3.2-3.4 ms of murmurd's CPU a frame with 152,000
 * waiting, against 0.8-0.9 ms with up to 2,000 (the first frames bob takes).
 * Now the origin's lowest waiting seq answers it (core's `OriginWaits`):
 * ~0.5 ms a frame with 152,000.
 */
import assert from 'node:assert/strict'
import { createPrivateKey, generateKeyPairSync, sign, type JsonWebKey } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { proveOps, type Frame, type Op } from '@murmur/core'
import { Attacker, freshWriter } from './attacker.js'
import { TestCluster, cpuSeconds, waitFor } from './harness.js'

/** Origins of one op each, and the bytes of each op's value: together just past the budget. */
const ORIGINS = 30_000
const VALUE_BYTES = 2_100
/** Small ops of one more origin that follow, past a gap too, each of which must evict one to wait. */
const FLOOD = 4_000
/** Ops of one origin past its gap, between frames of one op of it each (each of which drains that origin). */
const ONE_ORIGIN = 150_000
const FOLLOWING = 2_000
const done: Frame = { kind: 'control', message: { t: 'done' } }

/** Ops signed by writers no peer runs: one op (seq 2, so seq 1 is a gap) of an Ed25519 key of its own each, for `group`. */
function sybilOps (count: number, group = 'default'): Op[] {
  const prefix = Buffer.from(`murmur/batch/1\0${group}\0`)
  const value = Buffer.alloc(VALUE_BYTES, 'v')
  return Array.from({ length: count }, (_, i) => {
    // the pair comes encoded, not as key objects to export: on Node 20 (not 22 or 24) exporting a generated key could
    // deadlock the test process in a futex, when a garbage collection during the export freed the generating job, whose
    // destructor takes the lock the export holds (one run of this file in five; 240,000 keys in a loop, always)
    const options = { privateKeyEncoding: { format: 'jwk' }, publicKeyEncoding: { format: 'jwk' } } as unknown as Parameters<typeof generateKeyPairSync>[1]
    const pair = generateKeyPairSync('ed25519', options) as unknown as { privateKey: JsonWebKey, publicKey: JsonWebKey }
    const privateKey = createPrivateKey({ key: pair.privateKey, format: 'jwk' })
    const raw = Buffer.from(pair.publicKey.x as string, 'base64url')
    const op: Op = { key: `s${i}`, value, wall: Date.now(), logical: 0, origin: peerIdFromPublicKey(publicKeyFromRaw(raw)).toString(), seq: 2 }
    proveOps([op], payload => sign(null, Buffer.concat([prefix, payload]), privateKey))
    return op
  })
}

/** `ops` in frames of about `bytes` each. */
function framed (ops: Op[], bytes: number): Frame[] {
  const frames: Frame[] = []
  let size = Infinity
  for (const op of ops) {
    const opBytes = (op.value?.length ?? 0) + 200
    if (size + opBytes > bytes) {
      frames.push({ kind: 'ops', ops: [] })
      size = 0
    }
    ;(frames.at(-1) as { ops: Op[] }).ops.push(op)
    size += opBytes
  }
  return frames
}

/** Ops of one more writer no peer runs (seq 1, no gap), to send after a part: once a node holds it, it has taken every frame before it. */
async function markers (count: number): Promise<Op[]> {
  return await Promise.all(Array.from({ length: count }, async (_, i) => {
    const writer = await freshWriter()
    const op: Op = { key: `marker${i}`, value: Buffer.from('after the frames'), wall: Date.now(), logical: 0, origin: writer.origin, seq: 1 }
    proveOps([op], writer.sign)
    return op
  }))
}

describe('a member that sends each op as an origin of its own, past a gap', () => {
  const cluster = new TestCluster()
  const attackers: Attacker[] = []
  after(async () => {
    // the nodes first: an attacker may still be writing its frames, which the node's end then resets
    await cluster.close()
    for (const attacker of attackers) await attacker.stop()
  })

  it(`keeps ${ORIGINS} origins waiting, and an op that must evict one costs no look at them all`, async () => {
    const alice = await cluster.start('alice', { args: ['--anti-entropy-interval', '300', '--anti-entropy-max-interval', '300'] })
    const mallory = await Attacker.start()
    attackers.push(mallory)
    const sybils = sybilOps(ORIGINS)
    // then small ops of one origin (mallory's own key: its seq 1 never comes), signed a thousand a batch, sent
    // furthest first: hers are the largest origin, so each takes the place of the one before it (one eviction each)
    const flood = Array.from({ length: FLOOD }, (_, i) => mallory.op(`f${i}`, 'x', { seq: 1_000 + i }, false))
    for (let i = 0; i < FLOOD; i += 1_000) mallory.sign(flood.slice(i, i + 1_000))
    flood.reverse()
    const [first, second] = await markers(2) as [Op, Op]
    // an honest writer alice holds an op of (w1), with its largest ops waiting past its gap (w3..w12, 900 kB in one frame: the largest
    // origin there is): origins she holds nothing of go first, so none of these is evicted, and w2 lets them all apply
    const w = await freshWriter()
    const base = Date.now()
    const wOp = (seq: number, bytes: number): Op => ({ key: `w${seq}`, value: Buffer.alloc(bytes, 'w'), wall: base + seq, logical: 0, origin: w.origin, seq })
    const [w1, w2] = [wOp(1, 10), wOp(2, 10)]
    const ahead = Array.from({ length: 10 }, (_, i) => wOp(3 + i, 90_000))
    for (const batch of [[w1], [w2], ahead]) proveOps(batch, w.sign)
    const pid = alice.process?.pid as number
    let pulls = 0
    /** w2 goes in the first pull after the test has seen w's ops wait, and in no other. */
    let w2Due = false
    let cpuBefore = 0
    mallory.answer = (_puller, hello) => {
      pulls++
      if (pulls === 1) return [mallory.hello(hello), { kind: 'ops', ops: [w1] }, { kind: 'ops', ops: ahead }, ...framed(sybils, 1 << 20), { kind: 'ops', ops: [first] }, done]
      if (pulls === 2) {
        cpuBefore = cpuSeconds(pid)
        return [mallory.hello(hello), ...framed(flood, 256 * 1024), { kind: 'ops', ops: [second] }, done]
      }
      // w's gap, once: what waited past it is never sent again
      if (w2Due) {
        w2Due = false
        return [mallory.hello(hello), { kind: 'ops', ops: [w2] }, done]
      }
      return [mallory.hello(hello), done]
    }
    await mallory.dial(await alice.addr())
    await mallory.pull(await alice.addr()) // its hello shows it a member: alice's anti-entropy pulls from it
    const holds = async (marker: Op): Promise<boolean> => (await alice.status()).versionVector[marker.origin] === 1
    await waitFor(async () => await holds(first), 'alice to take the first pull\'s frames', 120_000, 250)
    const taken = await alice.status()
    assert.ok(taken.replication.waiting > ORIGINS * 0.9, `${taken.replication.waiting} ops wait`)
    assert.equal(sybils.filter(op => taken.versionVector[op.origin] !== undefined).length, 0, 'no waiting op counted as held')
    await waitFor(async () => await holds(second), 'alice to take the second pull\'s frames', 120_000, 250)
    const cpu = cpuSeconds(pid) - cpuBefore
    console.log(`# ${FLOOD} ops past a gap with ${taken.replication.waiting} ops of ${ORIGINS} origins waiting: ${(cpu * 1000).toFixed(0)} ms of murmurd's CPU (${(cpu * 1e6 / FLOOD).toFixed(0)} µs an op)`)
    assert.ok(cpu < FLOOD * 0.2e-3, `${cpu.toFixed(2)} s of CPU for ${FLOOD} ops: more than 0.2 ms an op`)
    assert.equal((await alice.status()).versionVector[w.origin], 1, 'w\'s ops past its gap wait')
    w2Due = true
    await waitFor(async () => (await alice.status()).versionVector[w.origin] === ahead.length + 2, 'w\'s ops that waited, kept through the flood, to apply once its gap is filled', 30_000, 250).catch(async err => {
      throw new Error(`${(err as Error).message}: alice holds w up to ${(await alice.status()).versionVector[w.origin]}, after ${pulls} pulls from mallory`)
    })
    // and she still writes and answers
    assert.equal((await alice.ctl(['put', 'after', 'ok'])).code, 0)
  })

  it(`keeps ${ONE_ORIGIN} ops of one origin waiting, and each op of it that follows, one a frame, costs what it did with few waiting`, async () => {
    const bob = await cluster.start('bob', { args: ['--anti-entropy-interval', '300', '--anti-entropy-max-interval', '300'] })
    const eve = await Attacker.start()
    attackers.push(eve)
    // her own ops, all past seq 1, which never comes: frames of one op each (signed alone), then many a thousand a
    // batch, then frames of one op each again
    let seq = 1_000
    const single = (): Frame[] => Array.from({ length: FOLLOWING }, () => ({ kind: 'ops', ops: [eve.op(`f${seq}`, 'x', { seq: seq++ })] }))
    const before = single()
    const waiting = Array.from({ length: ONE_ORIGIN }, () => eve.op(`w${seq}`, 'x', { seq: seq++ }, false))
    for (let i = 0; i < ONE_ORIGIN; i += 1_000) eve.sign(waiting.slice(i, i + 1_000))
    const following = single()
    const marks = await markers(3)
    const pid = bob.process?.pid as number
    const parts = [before, framed(waiting, 1 << 20), following]
    const cpuAt: number[] = []
    eve.answer = (_puller, hello) => {
      const part = cpuAt.length
      if (part >= parts.length) return [eve.hello(hello), done]
      cpuAt.push(cpuSeconds(pid))
      return [eve.hello(hello), ...parts[part] as Frame[], { kind: 'ops', ops: [marks[part] as Op] }, done]
    }
    await eve.dial(await bob.addr())
    await eve.pull(await bob.addr()) // its hello shows it a member: bob's anti-entropy pulls from it
    const cpu: number[] = []
    for (const [part, what] of ['frames of one op each', 'ops a thousand a batch', 'frames of one op each again'].entries()) {
      await waitFor(async () => (await bob.status()).versionVector[(marks[part] as Op).origin] === 1, `bob to take the ${what}`, 120_000, 250)
      cpu.push(cpuSeconds(pid) - (cpuAt[part] as number))
    }
    const { replication } = await bob.status()
    assert.ok(replication.waiting >= ONE_ORIGIN + 2 * FOLLOWING, `${replication.waiting} ops wait: all of eve's should`)
    const [few, many] = [cpu[0] as number, cpu[2] as number]
    console.log(`# ${FOLLOWING} frames of one op each: ${(few * 1e6 / FOLLOWING).toFixed(0)} µs of murmurd's CPU a frame with up to ${FOLLOWING} of their origin's ops waiting, ${(many * 1e6 / FOLLOWING).toFixed(0)} µs with ${ONE_ORIGIN + FOLLOWING}`)
    assert.ok(many < 2 * few, `${(many * 1e3).toFixed(0)} ms of CPU for the frames with ${ONE_ORIGIN} waiting, ${(few * 1e3).toFixed(0)} ms with few`)
  })
})
