/**
 * Hostile bytes against real daemons (test/attacker.ts): what the README's
 * Security section promises, tried the way a hostile member or a stranger
 * would, on the wire. Malformed gossip messages and sync frames (random,
 * mutated valid encodings, lying length prefixes, truncated frames, garbage
 * after a valid hello) must be refused and counted and must never stop a
 * murmurd or its replication. (Ops signed in one group replayed into
 * another, and spliced under another batch's proof: hostile-splice.spec.ts.)
 *
 * The garbage comes from a seeded PRNG: the seed is printed, and
 * HOSTILE_BYTES_SEED=<seed> runs the same bytes again.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { OpChecker, decodeFrame, decodeOps, encodeFrame, encodeOps, proveOps, type Frame, type Hello, type Op } from '@murmur/core'
import { batchVerifier } from '../src/op-signing.js'
import { Attacker, freshWriter, prefixed } from './attacker.js'
import { TestCluster, logged, waitFor, type TestNode } from './harness.js'
import { FAST, alive, done, rejected, rejectedMessages, value } from './hostile-checks.js'

const SEED = Number(process.env.HOSTILE_BYTES_SEED ?? Math.floor(Math.random() * 2 ** 31))
console.log(`# hostile-bytes seed ${SEED} (HOSTILE_BYTES_SEED=${SEED} replays it)`)


/** mulberry32: a small seeded PRNG, so a failing run's bytes can be made again. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/** Random bytes and mutations of valid encodings, as core's codec and frame fuzzers make them. */
class Garbage {
  private readonly next: () => number
  constructor (seed: number) { this.next = prng(seed) }

  int (below: number): number { return Math.floor(this.next() * below) }
  pick<T> (items: readonly T[]): T { return items[this.int(items.length)] as T }

  bytes (maxLength: number): Uint8Array {
    return Uint8Array.from({ length: this.int(maxLength + 1) }, () => this.int(256))
  }

  /** 1 to 4 bytes set, inserted or deleted, then up to 3 cut off the end. */
  mutate (valid: Uint8Array): Uint8Array {
    const bytes = [...valid]
    for (let edits = 1 + this.int(4); edits > 0; edits--) {
      const at = this.int(bytes.length + 1)
      const how = this.pick(['set', 'insert', 'delete'] as const)
      if (how === 'set' && at < bytes.length) bytes[at] = this.int(256)
      else if (how === 'insert') bytes.splice(at, 0, this.int(256))
      else bytes.splice(at, 1)
    }
    return Uint8Array.from(bytes.slice(0, bytes.length - this.int(4)))
  }
}

/** Whether `bytes`, what a server wrote, begin with a length-prefixed hello frame. */
function helloIn (bytes: Uint8Array): boolean {
  let at = 0
  let length = 0
  for (let scale = 1, byte = 0x80; byte >= 0x80; scale *= 0x80) {
    byte = bytes[at++] ?? 0
    length += (byte & 0x7f) * scale
  }
  const frame = decodeFrame(bytes.subarray(at, at + length))
  return frame.kind === 'control' && frame.message.t === 'hello'
}

/** `waitFor`, failed at once should a murmurd of `nodes` exit meanwhile (a crash, not a slow node). */
async function waitWhileUp<T> (nodes: TestNode[], check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs?: number): Promise<T> {
  const exits: Array<[TestNode, () => void]> = []
  const died = new Promise<never>((resolve, reject) => {
    for (const node of nodes) {
      const exited = (): void => { reject(new Error(`${node.name}'s murmurd exited while waiting for ${what}: ${node.stderr.slice(-2000)}`)) }
      if (node.process?.exitCode != null || node.process?.signalCode != null) exited()
      node.process?.once('exit', exited)
      exits.push([node, exited])
    }
  })
  try {
    return await Promise.race([waitFor(check, what, timeoutMs), died])
  } finally {
    for (const [node, exited] of exits) node.process?.off('exit', exited)
  }
}

/** A put on `from` reaches `to` (polled), and one on `to` reaches `from`. */
async function stillReplicating (from: TestNode, to: TestNode, tag: string): Promise<void> {
  await from.put(`honest:${tag}:1`, 'there')
  await to.put(`honest:${tag}:2`, 'back')
  await waitWhileUp([from, to], async () => await to.value(`honest:${tag}:1`) === 'there' && await from.value(`honest:${tag}:2`) === 'back', `honest puts after the ${tag} garbage to replicate both ways`)
}

describe('malformed bytes from a hostile member or a stranger', () => {
  const cluster = new TestCluster()
  const garbage = new Garbage(SEED)
  let alice: TestNode
  let bob: TestNode
  let attacker: Attacker
  let bobId: string
  /** Valid encodings to mutate: a genuine op of bob's, the attacker's own signed batches. */
  let valid: Uint8Array[]

  before(async () => {
    alice = await cluster.start('alice', { args: FAST })
    bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST })
    bobId = (await bob.status()).id
    attacker = await Attacker.start()
    await attacker.dial(await alice.addr())
    await bob.put('config:real', 'genuine')
    const genuine = await waitFor(() => attacker.captured.find(op => op.origin === bobId), 'the attacker to capture one of bob\'s ops from gossip')
    valid = [
      encodeOps([genuine]),
      encodeOps([attacker.op('mallory:a', 'x')]),
      encodeOps(attacker.sign([attacker.op('mallory:b', 'y', { type: 'json', expires: Date.now() + 60_000 }), attacker.op('mallory:c', null)])),
      encodeOps(attacker.sign([attacker.op('mallory:d', 'z', { seen: { wall: genuine.wall, logical: genuine.logical, origin: bobId } })]))
    ]
  })
  after(async () => {
    await attacker?.stop()
    await cluster.close()
  })

  it('garbage gossip messages are rejected and counted; every murmurd keeps running and replicating', async () => {
    // only messages a node must refuse (a mutation may leave an encoding that still checks out, or a copy): those are not sent
    const checker = new OpChecker({ verify: batchVerifier('default') })
    const refused = (bytes: Uint8Array): boolean => {
      try {
        const ops = decodeOps(bytes)
        return ops.length === 0 || ops.some(op => checker.problem(op) != null)
      } catch {
        return true
      }
    }
    const messages = new Map<string, Uint8Array>()
    while (messages.size < 300) {
      const bytes = garbage.int(3) === 0
        ? (garbage.int(2) === 0 ? garbage.bytes(200) : Uint8Array.of(2, ...garbage.bytes(200)))
        : garbage.mutate(garbage.pick(valid))
      if (bytes.length > 0 && refused(bytes)) messages.set(Buffer.from(bytes).toString('hex'), bytes)
    }
    const before = await rejectedMessages(alice)
    const opsBefore = await rejected(alice)
    let published = 0
    for (const bytes of messages.values()) {
      // gossipsub may refuse to publish a message it has seen (its id is a hash of the bytes): not garbage the node sees
      if (await attacker.publishRaw(bytes).then(() => true, () => false)) published++
      if (published % 20 === 0) await new Promise(resolve => setImmediate(resolve))
    }
    await waitWhileUp([alice, bob], async () => await rejectedMessages(alice) > before, 'alice to count the garbage she rejected')
    await stillReplicating(alice, bob, 'gossip')
    await alive([alice, bob])
    const counted = await rejectedMessages(alice) - before
    assert.equal(await rejected(alice), opsBefore, 'messages rejected whole are not counted as refused ops')
    // gossipsub may shut out a peer whose messages keep failing (its score) before it validates them all: a few at least
    assert.ok(counted >= 3, `alice rejected ${counted} of ${published}`)
    await logged(alice, /rejected gossip message/, 'alice rejected the garbage')
    assert.equal((alice.userRows() as Array<{ key: string }>).filter(row => row.key.startsWith('mallory:')).length, 0)
    assert.equal(await rejected(bob) + await rejectedMessages(bob), 0, 'nothing of it was forwarded to bob')
    console.log(`# gossip: ${published} garbage messages published, alice rejected ${counted} of them`)
  })

  it('a peer whose messages keep failing is shut out for a while: of garbage sent over 3 s, alice validates only part', async () => {
    const before = await rejectedMessages(alice)
    let sent = 0
    // 20 messages every 100 ms: bursts that span several heartbeats, where gossipsub takes each peer's score anew
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 20; i++) if (await attacker.publishRaw(Uint8Array.of(2, ...garbage.bytes(64))).then(() => true, () => false)) sent++
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    // gossip from one peer is taken in order: once alice takes a valid op sent after the garbage (a new one every
    // half second, with those before it, until its score lets one through), she has validated or ignored all of it
    // (the markers are a fresh writer's: the peer's own seqs may have gaps alice never fills, that its garbage used)
    const writer = await freshWriter()
    const since: Op[] = []
    await waitWhileUp([alice], async () => {
      const marker: Op = { key: `score:${since.length + 1}`, value: Buffer.from('x'), wall: Date.now(), logical: 0, origin: writer.origin, seq: since.length + 1 }
      proveOps([marker], writer.sign)
      since.push(marker)
      await attacker.publish(since).catch(() => {})
      return await waitFor(async () => (await alice.ctl(['get', `score:${since.length}`])).code === 0, 'the marker', 500).catch(() => false)
    }, 'alice to take a valid op of the peer\'s sent after its garbage', 60_000)
    const counted = await rejectedMessages(alice) - before
    console.log(`# gossip score: ${sent} garbage messages over 3 s, alice validated and refused ${counted}`)
    assert.ok(counted < sent, `the peer is ignored for a while once its score falls: ${counted} of ${sent} validated`)
    await stillReplicating(alice, bob, 'scored')
  })

  it('garbage frames from a member alice pulls from end that pull, are counted where they decode, and stop nothing', async () => {
    const hello = (frame: Frame): Uint8Array => prefixed(encodeFrame(frame))
    const ops = (list: Op[]): Uint8Array => prefixed(encodeFrame({ kind: 'ops', ops: list }))
    // what follows a valid hello: each ends the pull, or (a frame that decodes) is refused and the pull goes on
    const endings: Array<[string, () => Uint8Array[]]> = [
      ['a random frame', () => [prefixed(Uint8Array.of(garbage.int(8), ...garbage.bytes(100)))]],
      ['a mutated ops frame', () => [prefixed(garbage.mutate(encodeFrame({ kind: 'ops', ops: decodeOps(garbage.pick(valid)) })))]],
      ['a mutated done', () => [prefixed(garbage.mutate(encodeFrame(done)))]],
      ['a length prefix of 2^40', () => [prefixed(garbage.bytes(16), 2 ** 40)]],
      ['a length prefix one past 16 MiB', () => [prefixed(garbage.bytes(16), 16 * 1024 * 1024 + 1)]],
      ['an overlong length prefix', () => [Uint8Array.from({ length: 12 }, () => 0xff)]],
      ['a truncated ops frame', () => { const frame = ops([attacker.op('mallory:t', 'x'.repeat(200))]); return [frame.subarray(0, 1 + garbage.int(frame.length - 1))] }],
      ['a frame and no more', () => [prefixed(Uint8Array.of(2), 1000)]]
    ]
    const cases: Array<{ name: string, bytes: Uint8Array[] }> = []
    // a dozen pulls: each ending at least once, then drawn at random
    for (let i = 0; i < 12; i++) {
      const [name, make] = i < endings.length ? endings[i] as [string, () => Uint8Array[]] : garbage.pick(endings)
      cases.push({ name, bytes: make() })
    }
    const before = await rejected(alice)
    let served = 0
    attacker.rawAnswer = (_puller, puller) => {
      const next = cases[served++]
      if (next === undefined) return [hello(attacker.hello(puller)), prefixed(encodeFrame(done))]
      // a forgery that decodes comes first: refused and counted, and the pull reads on to the garbage
      const forged = attacker.sign([attacker.op('config:real', 'forged', { origin: bobId, seq: 1_000 + served }, false)])
      return [hello(attacker.hello(puller)), ops(forged), ...next.bytes]
    }
    await waitWhileUp([alice, bob], () => served > cases.length, `alice to pull ${cases.length} garbage answers from the attacker`, 25_000)
    attacker.rawAnswer = undefined
    await alive([alice, bob])
    assert.ok(await rejected(alice) >= before + cases.length, 'the forgery in each answer was refused and counted')
    await logged(alice, /sync from peer failed/, 'alice ended the pull')
    assert.equal(await value(alice, 'config:real'), 'genuine')
    await stillReplicating(bob, alice, 'pulled')
    await alive([alice, bob])
    console.log(`# pulled garbage: ${cases.map(c => c.name).join(', ')}`)
  })

  it('garbage hellos and garbage after a valid hello, opened on murmurd\'s sync protocol, leave it serving', async () => {
    const addr = await alice.addr()
    const hello: Hello = { t: 'hello', group: 'default', name: 'mallory', now: Date.now(), vector: {} }
    const validHello = encodeFrame({ kind: 'control', message: hello })
    const kinds: Array<[string, () => Uint8Array[]]> = [
      ['random bytes', () => [garbage.bytes(100)]],
      ['a random frame', () => [prefixed(Uint8Array.of(garbage.int(8), ...garbage.bytes(100)))]],
      ['a mutated hello', () => [prefixed(garbage.mutate(validHello))]],
      ['a hello of another shape', () => [prefixed(Buffer.concat([Buffer.of(1), Buffer.from(JSON.stringify({ ...hello, vector: garbage.pick([[], -1, { a: -1 }, JSON.parse('{"__proto__":1}'), 'x', null]) }))]))]],
      ['a length prefix of 2^40', () => [prefixed(validHello, 2 ** 40)]],
      ['an overlong length prefix', () => [Uint8Array.from({ length: 12 }, () => 0xff)]],
      ['a truncated hello', () => [prefixed(validHello).subarray(0, 1 + garbage.int(validHello.length))]],
      ['a valid hello, then garbage frames', () => [prefixed(validHello), ...Array.from({ length: 3 }, () => prefixed(garbage.bytes(64))), garbage.bytes(32)]]
    ]
    const ended: Record<string, number> = {}
    for (let i = 0; i < 200; i++) {
      const [name, make] = i < kinds.length ? kinds[i] as [string, () => Uint8Array[]] : garbage.pick(kinds)
      // a refused dial is a dead murmurd: say so
      const result = await attacker.sendRaw(addr, make()).catch(async (err: Error) => { await alive([alice]); throw err })
      assert.notEqual(result.ended, 'timeout', `alice held a stream open after ${name}`)
      // garbage after a valid hello goes unread: alice answers the hello
      if (name === 'a valid hello, then garbage frames') assert.equal(result.answer.length > 0 && helloIn(result.answer), true, 'alice answered the valid hello')
      ended[result.ended] = (ended[result.ended] ?? 0) + 1
    }
    await alive([alice, bob])
    // a member's honest pull is still served, everything included
    const served = await attacker.pull(addr)
    assert.ok(served.some(op => op.key === 'config:real' && op.origin === bobId), 'alice still serves bob\'s op')
    await stillReplicating(alice, bob, 'served')
    await alive([alice, bob])
    console.log(`# 200 raw sync streams to alice ended: ${JSON.stringify(ended)}`)
  })
})
