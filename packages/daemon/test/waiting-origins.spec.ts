/**
 * A member of an open group may sign each op it sends as an origin of its own
 * (an Ed25519 key costs nothing) and send each past a gap that never fills:
 * every one waits, within the budget for waiting ops (64 MiB), 30,000 of them
 * here. Before, each op that then had to evict one looked at every origin that
 * waited to find the largest (0.54 ms of murmurd's CPU an op here, against
 * 0.04 ms now; 14 ms at the ~360,000 small ops the budget holds), and the
 * replica looked at every one of them again each second (~375 ms at 300,000).
 * Now both are found in heaps (core's `PendingOps`): the ops that follow cost
 * murmurd what decoding and checking them does.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
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
const done: Frame = { kind: 'control', message: { t: 'done' } }

/** Ops signed by writers no peer runs: one op (seq 2, so seq 1 is a gap) of an Ed25519 key of its own each, for `group`. */
function sybilOps (count: number, group = 'default'): Op[] {
  const prefix = Buffer.from(`murmur/batch/1\0${group}\0`)
  const value = Buffer.alloc(VALUE_BYTES, 'v')
  return Array.from({ length: count }, (_, i) => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url')
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

describe('a member that sends each op as an origin of its own, past a gap', () => {
  const cluster = new TestCluster()
  let attacker: Attacker | undefined
  after(async () => {
    // alice first: mallory may still be writing her frames, which alice's end then resets
    await cluster.close()
    await attacker?.stop()
  })

  it(`keeps ${ORIGINS} origins waiting, and an op that must evict one costs no look at them all`, async () => {
    const alice = await cluster.start('alice', { args: ['--anti-entropy-interval', '300', '--anti-entropy-max-interval', '300'] })
    const mallory = attacker = await Attacker.start()
    const sybils = sybilOps(ORIGINS)
    // then small ops of one origin (mallory's own key: its seq 1 never comes), signed a thousand a batch, sent
    // furthest first: hers are the largest origin, so each takes the place of the one before it (one eviction each)
    const flood = Array.from({ length: FLOOD }, (_, i) => mallory.op(`f${i}`, 'x', { seq: 1_000 + i }, false))
    for (let i = 0; i < FLOOD; i += 1_000) mallory.sign(flood.slice(i, i + 1_000))
    flood.reverse()
    // after each part, an op of a writer with no gap: once alice holds it, she has taken every frame before it
    const markers = await Promise.all([0, 1].map(async i => {
      const writer = await freshWriter()
      const op: Op = { key: `marker${i}`, value: Buffer.from('after the frames'), wall: Date.now(), logical: 0, origin: writer.origin, seq: 1 }
      proveOps([op], writer.sign)
      return op
    }))
    const pid = alice.process?.pid as number
    let pulls = 0
    let cpuBefore = 0
    mallory.answer = (_puller, hello) => {
      pulls++
      if (pulls === 1) return [mallory.hello(hello), ...framed(sybils, 1 << 20), { kind: 'ops', ops: [markers[0] as Op] }, done]
      if (pulls === 2) {
        cpuBefore = cpuSeconds(pid)
        return [mallory.hello(hello), ...framed(flood, 256 * 1024), { kind: 'ops', ops: [markers[1] as Op] }, done]
      }
      return [mallory.hello(hello), done]
    }
    await mallory.dial(await alice.addr())
    await mallory.pull(await alice.addr()) // its hello shows it a member: alice's anti-entropy pulls from it
    const holds = async (marker: Op | undefined): Promise<boolean> => (await alice.status()).versionVector[marker?.origin ?? ''] === 1
    await waitFor(async () => await holds(markers[0]), 'alice to take the first pull\'s frames', 120_000, 250)
    const taken = await alice.status()
    assert.ok(taken.replication.waiting > ORIGINS * 0.9, `${taken.replication.waiting} ops wait`)
    assert.equal(sybils.filter(op => taken.versionVector[op.origin] !== undefined).length, 0, 'no waiting op counted as held')
    await waitFor(async () => await holds(markers[1]), 'alice to take the second pull\'s frames', 120_000, 250)
    const cpu = cpuSeconds(pid) - cpuBefore
    console.log(`# ${FLOOD} ops past a gap with ${taken.replication.waiting} ops of ${ORIGINS} origins waiting: ${(cpu * 1000).toFixed(0)} ms of murmurd's CPU (${(cpu * 1e6 / FLOOD).toFixed(0)} µs an op)`)
    assert.ok(cpu < FLOOD * 0.2e-3, `${cpu.toFixed(2)} s of CPU for ${FLOOD} ops: more than 0.2 ms an op`)
    // and she still writes and answers
    assert.equal((await alice.ctl(['put', 'after', 'ok'])).code, 0)
  })
})
