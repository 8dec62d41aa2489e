/**
 * A hostile member cannot fill a real murmurd's memory (README, Security:
 * what a member cannot do). Ops that arrive past a gap in their writer's
 * sequence wait for the missing one, within a byte budget (64 MiB); a member
 * that serves far more than that past a seq it never sends gets the rest
 * refused, and none of it counted as held. Once the gap is filled the node
 * pulls the refused ops again and ends holding every one.
 *
 * What a pull is sent to keep until it ends is bounded too: a member that
 * answers with hundreds of MiB of witnesses (the ops its superseded ops lost
 * to), and holds the stream open, leaves the puller none of their values to
 * hold; one that offers a snapshot and sends hundreds of MiB of attestations
 * has its pull ended past a budget of them (64 MiB). And what a node keeps
 * of each peer it has met (for status) holds no more of a peer's hello than
 * the origins the node holds itself: a hello may name thousands.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp, type TCPSocketOptions } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { ATTESTATION_BUDGET, SYNC_PROTOCOL, attestationKey, encodeAttestation, encodeFrame, type Frame, type Hello, type Mark, type Op, type OpsKind } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, logged, rssBytes, waitFor, type TestNode } from './harness.js'

/** The replica's default budget for ops waiting past a gap (core's `PendingOps`). */
const BUDGET = 64 * 1024 * 1024
/** 112 ops of 640 KiB, seq 2 on: 70 MiB, just past the budget (each pass costs the machine: other specs run beside it). */
const OPS = 112
const VALUE_BYTES = 640 * 1024
const done: Frame = { kind: 'control', message: { t: 'done' } }
/** 300 ops of 900 KiB, one a frame: 264 MiB that a pull kept whole until it ended. */
const HELD = 300
const HELD_BYTES = 900 * 1024


describe('a member that sends ops past a gap it never fills', () => {
  const cluster = new TestCluster()
  let attacker: Attacker | undefined
  after(async () => {
    await attacker?.stop()
    await cluster.close()
  })

  it('keeps the waiting ops within their byte budget, counts none of them, and takes them all once the gap is filled', async () => {
    const alice = await cluster.start('alice', { args: ['--anti-entropy-interval', '300', '--anti-entropy-max-interval', '300'] })
    attacker = await Attacker.start()
    const mallory = attacker
    const base = Date.now()
    const ops: Op[] = []
    for (let seq = 1; seq <= OPS + 1; seq++) ops.push(mallory.op(`big:${seq}`, String(seq % 10).repeat(VALUE_BYTES), { seq, wall: base + seq }, false))
    mallory.sign(ops)
    let gapFilled = false
    // seq 2 on, an op a frame (a frame holds at most about 1 MiB); seq 1 only once the test says so
    mallory.answer = (_puller, hello) => [mallory.hello(hello), ...(gapFilled ? ops : ops.slice(1)).map(op => ({ kind: 'ops', ops: [op] }) as Frame), done]
    const rssBefore = rssBytes(alice.process?.pid as number)
    await mallory.dial(await alice.addr())
    await mallory.pull(await alice.addr()) // its hello shows it a member: alice's anti-entropy pulls from it

    // every pull brings the whole 70 MiB again: watch what alice keeps while one comes whole and the next begins
    let most = 0
    const pulls = mallory.pulls.length
    await waitFor(async () => {
      const status = await alice.status()
      most = Math.max(most, status.replication.waitingBytes)
      assert.equal(status.versionVector[mallory.id], undefined, 'nothing of mallory\'s counted while seq 1 is missing')
      assert.equal(status.keys, 0, 'nothing of mallory\'s applied while seq 1 is missing')
      return mallory.pulls.length >= pulls + 2 && status.replication.waitingBytes > 0
    }, 'alice to pull everything from mallory, and begin again', 60_000)
    const rssDuring = rssBytes(alice.process?.pid as number)
    console.log(`waiting ops: at most ${(most / 2 ** 20).toFixed(1)} MiB of ${OPS * VALUE_BYTES / 2 ** 20} MiB served past the gap; alice's RSS ${(rssBefore / 1e6).toFixed(0)} → ${(rssDuring / 1e6).toFixed(0)} MB`)
    assert.ok(most > BUDGET / 2, `the waiting ops fill the budget (${most} bytes): the test sends enough to overflow it`)
    assert.ok(most <= BUDGET, `the waiting ops stay within the budget: ${most} bytes`)

    gapFilled = true
    const status = await waitFor(async () => {
      const s = await alice.status()
      return s.versionVector[mallory.id] === OPS + 1 ? s : undefined
    }, 'alice to take every op once seq 1 comes', 60_000)
    assert.equal(status.keys, OPS + 1)
    assert.equal(status.replication.waitingBytes, 0, 'nothing left waiting')
    const last = await alice.ctl(['get', `big:${OPS + 1}`])
    assert.equal(last.code, 0, last.stderr)
    assert.equal(last.stdout.trim().length, VALUE_BYTES)
    // and she still writes and answers
    assert.equal((await alice.ctl(['put', 'after', 'ok'])).code, 0)
  })
})


/**
 * How much `node`'s RSS grows while mallory answers its pull with `HELD`
 * frames of `kind`, an op from `make` (given its seq) each, and holds the
 * stream open. Her seq 1 follows them in an ops frame, and comes alone in
 * every later pull: once `node` holds it, it has taken every frame before it
 * (or ended that pull).
 */
async function growthWhileHeld (node: TestNode, mallory: Attacker, kind: OpsKind, make: (seq: number) => Op, extra: Partial<Hello> = {}): Promise<number> {
  const marker = mallory.op('marker', 'after the frames', { seq: 1 })
  const held = Array.from({ length: HELD }, (_, i) => make(i + 2))
  let release = (): void => {}
  const holding = new Promise<void>(resolve => { release = resolve })
  let served = false
  mallory.answer = async function * (_puller, hello) {
    // a later pull (one that ended the first) gets her seq 1 alone
    if (served) return yield * [mallory.hello(hello), { kind: 'ops', ops: [marker] }, done]
    served = true
    yield mallory.hello(hello, extra)
    for (const op of held) yield { kind, ops: [op] }
    yield { kind: 'ops', ops: [marker] }
    await holding
    yield done
  }
  const pid = node.process?.pid as number
  const before = rssBytes(pid)
  try {
    await mallory.dial(await node.addr())
    await mallory.pull(await node.addr()) // its hello shows it a member: the node's anti-entropy pulls from it
    await waitFor(async () => (await node.status()).versionVector[mallory.id] === 1, `the node to take every ${kind} frame and then mallory's seq 1`, 60_000)
    // the pull is still open (its stream idles out after 20 s): what the node holds now, it holds for it
    const grown = rssBytes(pid) - before
    const sent = held.reduce((sum, op) => sum + (op.value?.length ?? 0), 0)
    console.log(`${(sent / 2 ** 20).toFixed(0)} MiB of ${kind} frames in one open pull; RSS grew ${(grown / 2 ** 20).toFixed(0)} MiB`)
    return grown
  } finally {
    release()
  }
}

describe('a member that answers a pull with hundreds of MiB and holds the stream open', () => {
  const cluster = new TestCluster()
  const attackers: Attacker[] = []
  after(async () => {
    for (const attacker of attackers) await attacker.stop()
    await cluster.close()
  })
  const start = async (name: string): Promise<{ node: TestNode, mallory: Attacker }> => {
    const node = await cluster.start(name, { args: ['--anti-entropy-interval', '300', '--anti-entropy-max-interval', '300'] })
    const mallory = await Attacker.start()
    attackers.push(mallory)
    return { node, mallory }
  }
  const value = Buffer.alloc(HELD_BYTES, 'v')

  it('leaves the puller none of the witnesses\' values to hold while the pull lasts', async () => {
    const { node: alice, mallory } = await start('alice')
    const grown = await growthWhileHeld(alice, mallory, 'witness', seq => mallory.sign([{ ...mallory.op(`w:${seq}`, 'x', { seq }, false), value }])[0] as Op)
    assert.ok(grown < HELD * HELD_BYTES / 2, `alice's RSS grew ${grown} bytes while the pull held ${HELD * HELD_BYTES} bytes of witnesses`)
    assert.equal((await alice.ctl(['put', 'after', 'ok'])).code, 0)
  })

  it('ends a snapshot whose attestations pass their budget', async () => {
    const { node: bob, mallory } = await start('bob')
    // attestations of her own of 900 KiB each: marks for 7,000 made-up origins, stamped before them
    const wall = Date.now()
    const marks = new Map<string, Mark>()
    for (let i = 0; i < 7_000; i++) marks.set(`o${String(i).padStart(5, '0')}${'x'.repeat(100)}`, { seq: 1, wall: wall - 60_000, logical: 0, acc: new Uint8Array(32) })
    const attestation = Buffer.from(encodeAttestation(marks))
    const grown = await growthWhileHeld(bob, mallory, 'attest', seq => mallory.sign([{ ...mallory.op(attestationKey(mallory.id), 'x', { seq, wall }, false), value: attestation }])[0] as Op, { snapshot: true })
    // kept whole, and decoded at the rows, they grew it by 1.3 GiB
    assert.ok(grown < 3 * ATTESTATION_BUDGET, `bob's RSS grew ${grown} bytes while the pull was sent ${HELD * attestation.length} bytes of attestations`)
    await logged(bob, /MiB of attestations for a snapshot/, 'bob ended the pull past the attestations\' budget')
    assert.equal((await bob.ctl(['put', 'after', 'ok'])).code, 0)
  })
})

/** Identities that each pull once, in each of two rounds, and their hellos' vectors: ~0.9 MiB of made-up origins (a frame's most). */
const IDENTITIES = 80
const CLAIMED_ORIGINS = 7_000

describe('peers that each pull once with a hello naming thousands of origins', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('leave no vector the size of their hellos behind them', async () => {
    const alice = await cluster.start('alice')
    const addr = multiaddr(await alice.addr())
    const pid = alice.process?.pid as number
    let hello = 0
    const round = async (round: number): Promise<void> => {
      for (let i = 0; i < IDENTITIES; i++) {
        // a peer of its own each time: what alice keeps of one peer's hello, she replaces at its next
        // and an address of its own in 127.0.0.0/8: libp2p takes at most 5 new connections a second from one host,
        // so from one address the 160 peers waited ~30 s between them for their turn
        const localAddress = `127.0.${100 + round}.${2 + i}`
        const node = await createLibp2p({ transports: [tcp({ dialOpts: { localAddress } as TCPSocketOptions })], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
        try {
          const vector = Object.fromEntries(Array.from({ length: CLAIMED_ORIGINS }, (_, j) => [`${round}${String(i).padStart(4, '0')}o${String(j).padStart(5, '0')}${'x'.repeat(117)}`, 1]))
          const frame = encodeFrame({ kind: 'control', message: { t: 'hello', group: 'default', name: `m${i}`, now: Date.now(), vector } })
          hello = frame.length
          const lp = lpStream(await node.dialProtocol(addr, SYNC_PROTOCOL))
          await lp.write(frame)
          await lp.read() // alice's hello: she has taken ours
        } finally {
          await node.stop()
        }
      }
    }
    // the first round's garbage grows the heap to where collecting it keeps up; a second round grows it only by what alice keeps
    await round(1)
    const between = rssBytes(pid)
    await round(2)
    const grown = rssBytes(pid) - between
    console.log(`${IDENTITIES} more peers, a hello of ${(hello / 2 ** 20).toFixed(2)} MiB each: alice's RSS grew ${(grown / 2 ** 20).toFixed(0)} MiB`)
    assert.ok(grown < IDENTITIES * hello * 3 / 4, `alice's RSS grew ${grown} bytes after ${IDENTITIES} more hellos of ${hello} bytes`)
    assert.equal((await alice.ctl(['put', 'after', 'ok'])).code, 0)
  })
})
