/**
 * The sync state machines, in process over encoded frames: what is served
 * and taken, snapshots for nodes behind the floors, and a server's claims
 * (its vector, its floors) never becoming the puller's state.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PullSession, STALE_MS, STALE_OPS, SyncProtocolError, encodeFrame, serve, type Frame, type Hello, type Op, type Replica } from '../src/index.js'
import { Clock, Keys, attest, bytes, pull, put, replicaFactory, rowsOf, storeFactory, tempDir, text, wire } from './helpers.js'

const dir = tempDir()
const keys = new Keys()
const GRACE = 1_000

/** Runs a pull whose server is `frames` (a hand-written peer); returns the session. */
function pullFrom (puller: Replica, frames: Frame[]): PullSession {
  const session = new PullSession(puller, { group: 'g', name: puller.nodeId })
  session.hello()
  for (const frame of frames) if (!session.done) session.take(wire(frame))
  return session
}

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`sync (${kind})`, () => {
    const clock = new Clock()
    const replica = replicaFactory(keys, clock, storeFactory(kind, dir), { tombstoneGraceMs: GRACE })

    it('brings an empty node every op it lacks, superseded ones included, so its prefix is whole', () => {
      const alice = replica('alice')
      for (let i = 0; i < 30; i++) {
        clock.advance(1)
        put(alice, `k${i % 7}`, i % 5 === 0 ? null : `v${i}`)
      }
      const bob = replica('bob')
      const result = pull(bob, alice)
      assert.equal(result.applied, 30)
      assert.deepEqual(bob.vector(), alice.vector())
      assert.deepEqual(rowsOf(bob.store), rowsOf(alice.store))
      assert.equal(pull(bob, alice).applied, 0, 'nothing twice')
    })

    it('serves the store in pages bounded in bytes, not only in ops: a paused puller holds a serve to a page of about 2 MiB', () => {
      const alice = replica('alice')
      // small ops first, then large ones (a page sized for the small would hold 512 large), then small again
      for (let i = 0; i < 600; i++) put(alice, `small:${i}`, 'v')
      for (let i = 0; i < 48; i++) {
        clock.advance(1)
        put(alice, `big:${i}`, String(i % 10).repeat(512 * 1024))
      }
      for (let i = 0; i < 600; i++) put(alice, `after:${i}`, 'v')
      const opsOf = alice.state.store.opsOf.bind(alice.state.store)
      // what the serve holds between two reads of the store: the values of the frames it makes from one page
      const pages: number[] = []
      // what each read of the store brought into memory, before any of it was cut to fit a page
      const read: number[] = []
      let reads = 0
      alice.state.store.opsOf = (origin, after, limit, maxBytes) => {
        reads++
        pages.push(0)
        const ops = opsOf(origin, after, limit, maxBytes)
        read.push(ops.reduce((sum, op) => sum + (op.value?.length ?? 0), 0))
        return ops
      }
      const bob = replica('bob')
      const session = new PullSession(bob, { group: 'g', name: 'bob' })
      const hello = wire(session.hello())
      assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
      for (const frame of serve(alice, hello.message, { group: 'g', name: 'alice' })) {
        if (frame.kind === 'ops') pages[pages.length - 1] = (pages.at(-1) ?? 0) + frame.ops.reduce((sum, op) => sum + (op.value?.length ?? 0), 0)
        session.take(wire(frame))
      }
      assert.deepEqual(rowsOf(bob.store), rowsOf(alice.store))
      const most = Math.max(...pages)
      assert.ok(most <= 2 * 1024 * 1024, `a page held ${most} bytes of values`)
      // a page of about 2 MiB and the op that passes it, not the 512 ops a page of small ones would ask for (24 MiB)
      assert.ok(Math.max(...read) <= 2.5 * 1024 * 1024, `a read of the store brought ${Math.max(...read)} bytes of values`)
      assert.ok(reads < 60, `${reads} reads of the store: the small ops are read many at a time`)
    })

    it('never takes a server\'s vector: a lie of 2^53 - 1 skips nothing and lifts no sequence', () => {
      const alice = replica('alice')
      const bob = replica('bob')
      put(alice, 'real', 'data')
      const lie: Hello = { t: 'hello', group: 'g', name: 'mallory', now: clock.ms, vector: { alice: Number.MAX_SAFE_INTEGER, bob: Number.MAX_SAFE_INTEGER } }
      pullFrom(bob, [{ kind: 'control', message: lie }, { kind: 'control', message: { t: 'done' } }])
      assert.deepEqual(bob.vector(), {})
      const written = put(bob, 'still', 'writing')
      assert.equal(written.seq, 1)
      pull(bob, alice)
      assert.equal(text(bob.get('real')?.value), 'data')
      assert.deepEqual(bob.vector(), { alice: 1, bob: 1 })
    })

    it('serves this node\'s own ops only once they are on disk, and nothing a puller holds waiting', () => {
      const alice = replica('alice')
      put(alice, 'a', '1')
      const [unsynced] = alice.write([{ key: 'b', value: Buffer.from('2') }])
      const bob = replica('bob')
      pull(bob, alice)
      assert.deepEqual(bob.vector(), { alice: 1 }, 'seq 2 is not on disk yet')
      alice.markDurable(unsynced?.seq ?? 0)
      const ops = Array.from({ length: 5 }, (_, i) => put(alice, `c${i}`, 'x'))
      bob.receive(ops.slice(2), { via: 'gossip' })
      const session = new PullSession(bob, { group: 'g', name: 'bob' })
      const hello = session.hello()
      assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
      const sent = [...serve(alice, hello.message, { group: 'g', name: 'alice' })].flatMap(f => f.kind === 'ops' ? f.ops.map(o => o.seq) : [])
      assert.deepEqual(sent, [2, 3, 4], 'seqs 5–7 wait at bob already')
    })

    it('ends a pull whose server streams ops gossip brought meanwhile; the next pull asks from there and brings the rest', () => {
      const alice = replica('alice')
      const written = alice.write(Array.from({ length: STALE_OPS + 100 }, (_, i) => ({ key: `burst/${i}`, value: bytes(`v${i}`) })))
      alice.markDurable((written.at(-1) as Op).seq)
      const bob = replica('bob')
      const session = new PullSession(bob, { group: 'g', name: 'bob', peer: 'alice' })
      const hello = wire(session.hello())
      assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
      // after the hello, gossip brings bob all but the last 50
      const early = STALE_OPS + 50
      assert.equal(bob.receive(written.slice(0, early), { via: 'gossip' }).applied, early)
      let served = 0
      for (const frame of serve(alice, hello.message, { group: 'g', name: 'alice', pageOps: 64 })) {
        if (session.done) break
        session.take(wire(frame))
        if (frame.kind === 'ops') served += frame.ops.length
      }
      assert.equal(session.result.stale, true, `the pull ran to its end: ${session.result.aborted}`)
      assert.equal(session.result.applied, 0)
      assert.ok(served >= STALE_OPS && served < early, `it stopped after ${served} ops held already, not at the ${early}th`)
      assert.equal(bob.vector().alice, early, 'nothing skipped: bob holds what gossip brought, no more')
      const next = pull(bob, alice)
      assert.equal(next.stale, undefined)
      assert.equal(next.applied, 50)
      assert.deepEqual(rowsOf(bob.store), rowsOf(alice.store))
    })

    it('ends a pull whose server trickles ops held already for STALE_MS, long before STALE_OPS of them', () => {
      const alice = replica('alice')
      const written = alice.write(Array.from({ length: 200 }, (_, i) => ({ key: `slow/${i}`, value: bytes(`v${i}`) })))
      alice.markDurable((written.at(-1) as Op).seq)
      const bob = replica('bob')
      const session = new PullSession(bob, { group: 'g', name: 'bob', peer: 'alice' })
      const hello = wire(session.hello())
      assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
      assert.equal(bob.receive(written, { via: 'gossip' }).applied, written.length)
      // a small frame every 10 s: 200 ops would take minutes
      let served = 0
      let frames = 0
      for (const frame of serve(alice, hello.message, { group: 'g', name: 'alice', pageOps: 8, frameBytes: 300 })) {
        if (session.done) break
        session.take(wire(frame))
        if (frame.kind === 'ops') {
          served += frame.ops.length
          frames++
        }
        clock.advance(10_000)
      }
      assert.equal(session.result.stale, true, `the pull ran to its end: ${session.result.aborted}`)
      assert.ok(frames <= STALE_MS / 10_000 + 1 && served < STALE_OPS, `it stopped after ${frames} frames (${served} ops held already), about STALE_MS`)
    })

    for (const staleMs of [undefined, 5_000]) {
      it(`counts frames of no ops as bringing nothing: not delivered (hole 9), and ${staleMs === undefined ? 'STALE_MS' : `staleMs ${staleMs}`} of them end the pull`, () => {
        const wait = staleMs ?? STALE_MS
        const alice = replica('alice')
        put(alice, 'k', 'v')
        const bob = replica('bob')
        const session = new PullSession(bob, { group: 'g', name: 'bob', peer: 'alice', ...(staleMs === undefined ? {} : { staleMs }) })
        const hello = wire(session.hello())
        assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
        const answer = serve(alice, hello.message, { group: 'g', name: 'alice' }).next().value as Frame
        assert.equal(session.take(wire(answer)).delivered, true, 'the hello moves the pull on')
        let frames = 0
        while (!session.done && frames < 1_000) {
          assert.equal(session.take(wire({ kind: 'ops', ops: [] })).delivered, false)
          frames++
          clock.advance(1_000)
        }
        assert.equal(session.result.stale, true, `the pull ran on: ${session.result.aborted}`)
        assert.ok(frames <= wait / 1_000 + 1 && frames >= wait / 1_000, `${frames} empty frames`)
        // and a frame of ops it takes does move a pull on
        const again = new PullSession(bob, { group: 'g', name: 'bob', peer: 'alice' })
        const frames2 = [...serve(alice, (wire(again.hello()) as { message: Hello }).message, { group: 'g', name: 'alice' })]
        assert.deepEqual(frames2.map(f => again.take(wire(f)).delivered), frames2.map(() => true))
        assert.equal(bob.get('k') === undefined, false)
      })
    }

    it('asks nothing of a server behind its own floors', () => {
      const alice = replica('alice')
      put(alice, 'k', '1')
      put(alice, 'k', null)
      attest(alice)
      clock.advance(GRACE)
      alice.collect()
      const empty = replica('empty')
      put(empty, 'mine', 'x')
      const session = new PullSession(alice, { group: 'g', name: 'alice' })
      const hello = session.hello()
      assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
      for (const frame of serve(empty, hello.message, { group: 'g', name: 'empty' })) if (!session.done) session.take(wire(frame))
      assert.match(session.result.aborted ?? '', /must catch up from this node first/)
      assert.equal(alice.get('mine'), undefined)
    })

    it('refuses frames out of order, another group, and a rejection', () => {
      const alice = replica('alice')
      const done: Frame = { kind: 'control', message: { t: 'done' } }
      assert.throws(() => pullFrom(alice, [done]), SyncProtocolError)
      assert.throws(() => pullFrom(alice, [{ kind: 'control', message: { t: 'hello', group: 'other', name: 'x', now: 0, vector: {} } }]), /another group/)
      assert.throws(() => pullFrom(alice, [{ kind: 'control', message: { t: 'reject', reason: 'no' } }]), /peer refused sync: no/)
      const hello: Frame = { kind: 'control', message: { t: 'hello', group: 'g', name: 'x', now: 0, vector: {} } }
      assert.throws(() => pullFrom(alice, [hello, { kind: 'import', ops: [] }]), /unexpected import/)
      const finished = pullFrom(alice, [hello, done])
      assert.throws(() => finished.take(wire(done)), /after done/)
      const served = [...serve(alice, { t: 'hello', group: 'other', name: 'x', now: 0, vector: {} }, { group: 'g', name: 'alice' })]
      assert.deepEqual(served.map(f => f.kind === 'control' ? f.message.t : f.kind), ['reject'])
      assert.ok(encodeFrame(done).length > 1)
    })

    // the SQLite store reads a batch's proof once per page; MemoryStore keeps whatever proof objects ops arrived with
    if (kind === 'sqlite') it('sends the winners of one batch as witnesses with one proof, not one per witness', () => {
      const write = (node: Replica, value: string): void => {
        const ops = node.write(Array.from({ length: 300 }, (_, i) => ({ key: `w${i}`, value: Buffer.from(value) })))
        node.markDurable((ops.at(-1) as Op).seq)
      }
      const alice = replica('alice')
      const bob = replica('bob')
      write(alice, 'a')
      clock.advance(10)
      write(bob, 'b')
      pull(alice, bob) // bob's later ops win: alice keeps her own in history
      const witnessed = (puller: Replica, said: (hello: Hello) => Hello): { witnesses: number, bytes: number } => {
        const session = new PullSession(puller, { group: 'g', name: puller.nodeId, peer: 'alice' })
        const hello = wire(session.hello())
        if (hello.kind !== 'control' || hello.message.t !== 'hello') throw new Error('bad hello')
        const seen = { witnesses: 0, bytes: 0 }
        for (const frame of serve(alice, said(hello.message), { group: 'g', name: 'alice' })) {
          if (frame.kind === 'witness') {
            seen.witnesses += frame.ops.length
            seen.bytes += encodeFrame(frame).length
          }
          if (!session.done) session.take(wire(frame))
        }
        assert.deepEqual(rowsOf(puller.store), rowsOf(alice.store))
        return seen
      }
      const carol = replica('carol')
      pull(carol, bob)
      // a puller that does not say its horizon may have collected bob's winners: each loser goes with its winner
      const { witnesses, bytes } = witnessed(carol, ({ horizon, ...hello }) => hello)
      assert.equal(witnesses, 300, 'each of alice\'s superseded ops goes with bob\'s winner')
      // 300 witnesses from bob's two batches: with a proof per witness each would carry ~8 KiB of digests (~2.5 MB)
      assert.ok(bytes < 100_000, `witness frames of ${bytes} bytes`)
      // one whose horizon is older than every loser cannot have collected what beat them: no witness is needed
      const dave = replica('dave')
      pull(dave, bob)
      assert.equal(witnessed(dave, hello => hello).witnesses, 0)
    })
  })
}
