/**
 * The sync state machines, in process over encoded frames: what is served
 * and taken, snapshots for nodes behind the floors, and a server's claims
 * (its vector, its floors) never becoming the puller's state.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FORGET_BEHIND_MS, PullSession, STALE_MS, STALE_OPS, STUCK_MS, SyncProtocolError, attestationKey, compareStamps, decodeFrame, encodeAttestation, encodeFrame, proveOps, serve, type Frame, type Hello, type Op, type PullResult, type Replica } from '../src/index.js'
import { Clock, Keys, attest, bytes, mesh, pull, put, replicaFactory, rowsOf, storeFactory, tempDir, text, wire } from './helpers.js'

const dir = tempDir()
const keys = new Keys()
const GRACE = 1_000


/** Writes what a snapshot asked to write again, as the daemon does. */
/** Writes what `node` has to write again, as the daemon does after each pull. */
function reissue (node: Replica): void {
  const ops = node.write(node.rewrites())
  if (ops.length > 0) node.markDurable((ops.at(-1) as Op).seq)
}

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

    it('gives a new node behind the floors a snapshot: attestations, rows, then the rest; it ends identical', () => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id)) as [Replica, Replica]
      for (let i = 0; i < 12; i++) put(alice, `k${i}`, `v${i}`)
      const typed = alice.write([{ key: 'typed/json', value: Buffer.from('{"a":1}'), type: 'json' }, { key: 'typed/bin', value: Buffer.from([0, 255]), type: 'binary' }])
      alice.markDurable(typed[1]?.seq ?? 0)
      for (let i = 0; i < 6; i++) put(bob, `k${i}`, i % 2 === 0 ? null : `bob${i}`)
      mesh([alice, bob], 2)
      clock.advance(GRACE)
      mesh([alice, bob], 2)
      alice.collect(); bob.collect()
      assert.ok(Object.keys(alice.status().floors).length > 0)
      const carol = replica('carol')
      const result = pull(carol, alice)
      assert.equal(result.snapshot, true)
      assert.deepEqual(rowsOf(carol.store), rowsOf(alice.store))
      assert.deepEqual([carol.get('typed/json')?.type, carol.get('typed/bin')?.type], ['json', 'binary'], 'value types come through a snapshot, signed')
      assert.deepEqual(carol.vector(), alice.vector())
      assert.equal(pull(carol, bob).snapshot, false, 'caught up: no second snapshot')
    })

    it('sends a snapshot\'s rows by writer and seq: a batch written in no key order and partly replaced sends its proof once', () => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id)) as [Replica, Replica]
      // 2,000 keys in 8 batches of 250, each in no key order; then every other key written again alone
      const order = Array.from({ length: 2_000 }, (_, i) => (i * 769) % 2_000)
      for (let b = 0; b < 8; b++) {
        const written = alice.write(order.slice(b * 250, b * 250 + 250).map(i => ({ key: `k${String(i).padStart(4, '0')}`, value: bytes('v'.repeat(100)) })))
        alice.markDurable((written.at(-1) as Op).seq)
      }
      for (let i = 0; i < 2_000; i += 2) put(alice, `k${String(i).padStart(4, '0')}`, 'w'.repeat(100))
      mesh([alice, bob], 2)
      clock.advance(GRACE)
      mesh([alice, bob], 2)
      alice.collect()
      const carol = replica('carol')
      const session = new PullSession(carol, { group: 'g', name: 'carol', peer: 'alice' })
      const hello = wire(session.hello())
      assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
      let bytesOf = 0
      let payload = 0
      for (const frame of serve(alice, hello.message, { group: 'g', name: 'alice', pageOps: 64, frameBytes: 64 * 1024 })) {
        const encoded = encodeFrame(frame)
        if (frame.kind === 'import') {
          bytesOf += encoded.length
          for (const op of frame.ops) payload += op.key.length + (op.value?.length ?? 0)
        }
        session.take(decodeFrame(encoded))
      }
      assert.equal(session.result.snapshot, true)
      assert.deepEqual(rowsOf(carol.store), rowsOf(alice.store))
      // in key order each frame held most batches' proofs with nearly all of their digests: ~6× the payload
      assert.ok(bytesOf < 2.5 * payload, `the rows took ${bytesOf} bytes for ${payload} of keys and values`)
    })

    it('ends a snapshot it serves when it takes one itself meanwhile: no row is missed and then taken for deleted', () => {
      const [alice] = collectedPair()
      const carol = replica('carol')
      const hello = wire(new PullSession(carol, { group: 'g', name: 'carol', peer: 'alice' }).hello())
      assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
      const kinds: string[] = []
      for (const frame of serve(alice, hello.message, { group: 'g', name: 'alice', pageOps: 8, frameBytes: 300 })) {
        kinds.push(frame.kind === 'control' ? frame.message.t : frame.kind)
        // as when alice settles a snapshot of her own between two pages
        if (frame.kind === 'import' && kinds.filter(k => k === 'import').length === 1) alice.state.settled++
      }
      assert.ok(kinds.includes('import'))
      assert.ok(!kinds.includes('done'), `the stream ends unfinished: ${kinds.join(' ')}`)
    })

    it('a node back after its deletes were collected drops what they deleted and writes its unseen writes again', () => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id, { retentionMs: 60_000 })) as [Replica, Replica]
      put(alice, 'deleted-while-away', 'old')
      put(alice, 'kept', 'old')
      mesh([alice, bob], 2)
      // bob goes away and writes; alice deletes, and once bob has been away past the retention, collects without him
      clock.advance(1)
      put(bob, 'offline-write', 'mine')
      clock.advance(1)
      put(alice, 'deleted-while-away', null)
      clock.advance(61_000)
      put(bob, 'newer-than-the-delete', 'mine too')
      attest(alice)
      alice.collect()
      assert.equal(alice.counts().tombstones, 0)
      const result = pull(bob, alice)
      assert.equal(result.snapshot, true)
      assert.deepEqual(result.reissue.map(c => [c.key, text(c.value)]), [
        ['deleted-while-away', null], // covered by the attestations, absent from the snapshot: deleted again, by bob
        ['offline-write', 'mine'] // older than the newest delete alice collected, unseen by her
      ])
      reissue(bob)
      assert.equal(bob.get('deleted-while-away')?.value ?? null, null)
      pull(alice, bob)
      assert.equal(alice.get('deleted-while-away')?.value ?? null, null)
      assert.equal(text(alice.get('offline-write')?.value), 'mine')
    })

    it('a tombstone a snapshot removes counts as collected here: an older value that comes later is written again', () => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id, { retentionMs: 60_000 })) as [Replica, Replica]
      put(alice, 'k', 'v')
      const tombstone = put(alice, 'k', null)
      mesh([alice, bob], 2)
      assert.equal(bob.counts().tombstones, 1)
      // bob is away past the retention (his own writes show it); alice writes on and collects the delete without him
      put(bob, 'mine', 'x')
      clock.advance(1)
      put(alice, 'later', 'x')
      clock.advance(61_000)
      put(bob, 'mine', 'y')
      attest(alice)
      alice.collect()
      assert.equal(alice.counts().tombstones, 0)
      const result = pull(bob, alice)
      assert.equal(result.snapshot, true)
      assert.equal(result.removed, 1, 'the tombstone goes')
      assert.ok(compareStamps(bob.status().horizon, tombstone) >= 0, 'and bob\'s horizon covers it, as if bob had collected it')
      // a value older than that delete, from a writer neither had heard of, now reaches bob: he cannot tell whether
      // the delete was of its key, so he writes it again rather than keep it as it is on his replica alone
      const old = { ...tombstone, origin: 'carol', seq: 1, wall: tombstone.wall - 1, value: Buffer.from('older') }
      proveOps([old], keys.signer('carol'))
      assert.equal(bob.receive([old], { via: 'sync' }).changed.length, 1)
      assert.deepEqual(bob.rewrites().filter(c => c.key === 'k').map(c => text(c.value)), ['older'])
    })

    /** alice and bob, 40 keys of alice's held by both, and alice's floors past them: a new node pulls a snapshot. */
    const collectedPair = (): [Replica, Replica] => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id)) as [Replica, Replica]
      for (let i = 0; i < 40; i++) put(alice, `k${i}`, `v${i}`)
      mesh([alice, bob], 2)
      clock.advance(GRACE)
      mesh([alice, bob], 2)
      alice.collect()
      return [alice, bob]
    }

    it('takes a snapshot whole or not at all: one cut short leaves the node as it was', () => {
      const [alice] = collectedPair()
      const carol = replica('carol')
      const session = new PullSession(carol, { group: 'g', name: 'carol', peer: 'alice' })
      const hello = wire(session.hello())
      assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
      let imports = 0
      for (const frame of serve(alice, hello.message, { group: 'g', name: 'alice', pageOps: 5, frameBytes: 300 })) {
        if (frame.kind === 'import' && ++imports > 1) break // the connection (or the process) dies here
        session.take(wire(frame))
      }
      assert.equal(imports, 2, 'the snapshot was cut in the middle of its rows')
      assert.deepEqual(rowsOf(carol.store), [], 'no row yet')
      assert.deepEqual(carol.vector(), {}, 'no floor moved')
      assert.equal(pull(carol, alice).snapshot, true, 'the next pull is a whole snapshot')
      assert.deepEqual(rowsOf(carol.store), rowsOf(alice.store))
      assert.deepEqual(carol.store.staged(undefined, 10), [], 'nothing left staged')
    })

    it('counts a snapshot frame sent again as bringing nothing (hole 9): not delivered, and STALE_MS of them end the pull', () => {
      const [alice] = collectedPair()
      const carol = replica('carol')
      const session = new PullSession(carol, { group: 'g', name: 'carol', peer: 'alice' })
      const hello = wire(session.hello())
      assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
      const frames = [...serve(alice, hello.message, { group: 'g', name: 'alice', pageOps: 5, frameBytes: 300 })].map(wire)
      const [attest, firstImport] = [frames.find(f => f.kind === 'attest'), frames.find(f => f.kind === 'import')]
      assert.ok(attest !== undefined && firstImport !== undefined && frames[0] !== undefined, 'a snapshot: attestations, then rows')
      const took = (frame: Frame): boolean => session.take(frame).delivered
      assert.deepEqual([took(frames[0]), took(attest), took(attest)], [true, true, false], 'the same attestations again bring nothing')
      assert.equal(took(firstImport), true, 'the first rows move the pull on')
      let again = 0
      while (!session.done && again < 1_000) {
        assert.equal(took(again % 2 === 0 ? firstImport : wire(firstImport)), false, 'the same rows again bring nothing')
        again++
        clock.advance(1_000)
      }
      assert.match(session.result.aborted ?? '', /brought nothing new/)
      assert.ok(again <= STALE_MS / 1_000 + 1, `${again} frames sent again`)
      assert.deepEqual(rowsOf(carol.store), [], 'a snapshot cut short takes nothing')
      assert.equal(pull(carol, alice).snapshot, true, 'the next pull takes the snapshot whole')
      assert.deepEqual(rowsOf(carol.store), rowsOf(alice.store))
    })

    it('of two snapshot pulls at once (the first stalled), the newer takes the stage over and the older ends unsettled', () => {
      const [alice, bob] = collectedPair()
      bob.collect()
      const carol = replica('carol')
      const open = (server: Replica): { session: PullSession, frames: Iterator<Frame> } => {
        const session = new PullSession(carol, { group: 'g', name: 'carol', peer: server.nodeId })
        const hello = wire(session.hello())
        assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
        return { session, frames: serve(server, hello.message, { group: 'g', name: server.nodeId, pageOps: 5, frameBytes: 300 }) }
      }
      const takeUntil = ({ session, frames }: { session: PullSession, frames: Iterator<Frame> }, imports: number): void => {
        for (let seen = 0, next = frames.next(); next.done !== true && !session.done; next = frames.next()) {
          session.take(wire(next.value))
          if (next.value.kind === 'import' && ++seen === imports) return
        }
      }
      // the first pull stalls after two frames of rows; the second starts beside it and gets two frames in
      const first = open(alice)
      takeUntil(first, 2)
      const second = open(bob)
      takeUntil(second, 2)
      // the first goes on: its rows were cleared from the stage, so it ends without settling
      takeUntil(first, Infinity)
      assert.equal(first.session.done, true)
      assert.match(first.session.result.aborted ?? '', /newer pull/)
      assert.equal(first.session.result.snapshot, false)
      assert.deepEqual(carol.vector(), {}, 'no floor moved on the strength of rows it no longer had')
      takeUntil(second, Infinity)
      assert.equal(second.session.result.snapshot, true)
      assert.deepEqual(rowsOf(carol.store), rowsOf(alice.store), 'every row, from the one snapshot taken whole')
      assert.deepEqual(carol.store.staged(undefined, 10), [], 'nothing left staged')
    })

    it('two sides that each collected past the retention meet again without bringing back a collected delete', () => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id, { retentionMs: 60_000 })) as [Replica, Replica]
      put(alice, 'k', 'v')
      mesh([alice, bob], 2)
      // a partition longer than the retention: bob deletes k and collects the tombstone; alice goes on without bob
      clock.advance(1)
      put(bob, 'k', null)
      put(alice, 'other', 'x')
      clock.advance(61_000)
      for (const node of [alice, bob]) {
        attest(node)
        node.collect()
      }
      assert.equal(bob.store.row('k'), undefined, 'bob collected his delete')
      assert.equal(text(alice.get('k')?.value), 'v', 'alice never saw it')
      for (const [puller, server] of [[bob, alice], [alice, bob]] as const) {
        const result = pull(puller, server)
        assert.equal(result.snapshot, true)
        reissue(puller)
      }
      mesh([alice, bob], 2)
      assert.equal(bob.get('k')?.value ?? null, null, 'a snapshot does not bring back an op bob held and saw deleted')
      assert.equal(alice.get('k')?.value ?? null, null, 'alice deletes it again')
      assert.deepEqual(rowsOf(bob.store), rowsOf(alice.store))
    })

    it('takes no snapshot a member offers an up-to-date node: one attestation claiming everything moves nothing, drops nothing', () => {
      const [alice, bob, mallory] = ['alice', 'bob', 'mallory'].map(id => replica(id)) as [Replica, Replica, Replica]
      for (let i = 0; i < 5; i++) put(alice, `k${i}`, `v${i}`)
      put(bob, 'b', '1')
      mesh([alice, bob, mallory], 2)
      const before = { rows: rowsOf(alice.store), vector: alice.vector() }
      // mallory's own, validly signed attestation: she holds every origin up to 1000
      const marks = new Map(['alice', 'bob', 'mallory'].map(origin => [origin, { seq: 1_000, wall: clock.ms, logical: 0, acc: new Uint8Array(32) }]))
      const [lie] = mallory.write([{ key: attestationKey('mallory'), value: encodeAttestation(marks) }])
      const floors = Object.fromEntries(['alice', 'bob', 'mallory'].map(origin => [origin, [1_000, clock.ms, 0, Buffer.alloc(32).toString('base64')] as [number, number, number, string]]))
      const hello: Hello = { t: 'hello', group: 'g', name: 'mallory', now: clock.ms, vector: { alice: 1_000, bob: 1_000, mallory: 1_000 }, snapshot: true, horizon: [clock.ms + 1_000_000, 0], floors }
      const session = new PullSession(alice, { group: 'g', name: 'alice', peer: 'mallory' })
      session.hello()
      for (const frame of [{ kind: 'control', message: hello }, { kind: 'attest', ops: [lie] }, { kind: 'import', ops: [] }, { kind: 'control', message: { t: 'done' } }] as Frame[]) session.take(wire(frame))
      assert.equal(session.result.snapshot, false, 'not taken')
      assert.deepEqual(session.result.reissue, [], 'nothing to write again')
      assert.deepEqual(rowsOf(alice.store), before.rows, 'every row still there')
      assert.deepEqual(alice.vector(), before.vector, 'no origin jumped')
      assert.equal(put(alice, 'next', 'x').seq, (before.vector.alice ?? 0) + 1, 'her next write takes her next seq')
    })

    it('jumps no origin nothing here speaks of: a new node offered one attestation claiming everything takes nothing on its word', () => {
      const [alice, mallory] = ['alice', 'mallory'].map(id => replica(id)) as [Replica, Replica]
      put(alice, 'k', 'v')
      put(mallory, 'm', '1')
      // a new node: it has heard of neither, and mallory sends only her own attestation, claiming alice's ops to 2^53 − 1
      const carol = replica('carol')
      const max = Number.MAX_SAFE_INTEGER
      const own = mallory.origin('mallory')?.held
      assert.ok(own !== undefined)
      const marks = new Map([['alice', { seq: max, wall: clock.ms, logical: 0, acc: new Uint8Array(32) }], ['mallory', own]])
      const [lie] = mallory.write([{ key: attestationKey('mallory'), value: encodeAttestation(marks) }])
      const floors = { alice: [max, clock.ms, 0, Buffer.alloc(32).toString('base64')] as [number, number, number, string] }
      const hello: Hello = { t: 'hello', group: 'g', name: 'mallory', now: clock.ms, vector: { alice: max, mallory: 2 }, snapshot: true, horizon: [0, 0], floors }
      const session = new PullSession(carol, { group: 'g', name: 'carol', peer: 'mallory' })
      session.hello()
      for (const frame of [{ kind: 'control', message: hello }, { kind: 'attest', ops: [lie] }, { kind: 'import', ops: [] }, { kind: 'control', message: { t: 'done' } }] as Frame[]) session.take(wire(frame))
      assert.equal(carol.vector().alice ?? 0, 0, 'alice is not jumped: nothing but mallory\'s word speaks of her')
      // so a pull from alice still brings her ops
      pull(carol, alice)
      assert.equal(text(carol.get('k')?.value), 'v')
    })

    /** Walt writes; nora takes his first op, then loses touch; sam, who has heard only of walt, collects walt's first ops with him. */
    function collectedWithoutNora (): [Replica, Replica, Replica] {
      const [walt, sam, nora] = ['walt', 'sam', 'nora'].map(id => replica(id)) as [Replica, Replica, Replica]
      put(walt, 'a', '1')
      pull(nora, walt)
      put(walt, 'a', '2')
      put(walt, 'a', '3')
      mesh([walt, sam], 2)
      clock.advance(GRACE)
      mesh([walt, sam], 2)
      sam.collect()
      assert.ok((sam.origin('walt')?.floor.seq ?? 0) > 1)
      return [walt, sam, nora]
    }

    it('a node stuck behind a floor no member reaches takes it after STUCK_MS, as far as the writer vouches', () => {
      const [walt, sam, nora] = collectedWithoutNora()
      // then sam meets a newcomer that has not heard of walt: no member's attestation now reaches walt's floor
      const nick = replica('nick')
      put(nick, 'n', 'x')
      mesh([sam, nick], 2)
      assert.equal(nora.vector().walt, 1)
      assert.equal(pull(nora, sam).snapshot, false, 'not at once: nora may yet hear from the group')
      assert.equal(nora.vector().walt, 1)
      clock.advance(STUCK_MS)
      assert.equal(pull(nora, sam).snapshot, true, 'stuck behind it past STUCK_MS, she takes it')
      assert.ok((nora.vector().walt ?? 0) >= (sam.origin('walt')?.floor.seq ?? 0))
      assert.ok((nora.vector().walt ?? 0) <= (walt.origin('walt')?.held.seq ?? 0), 'never past what walt himself attests')
      assert.equal(text(nora.get('a')?.value), '3')
    })

    it('a member cannot unsay what it attested of its own ops: a node that jumped them on its word and a peer that lacks them meet again within STUCK_MS', () => {
      const [mallory, alice] = ['mallory', 'alice'].map(id => replica(id)) as [Replica, Replica]
      put(mallory, 'm', '1')
      mesh([mallory], 2)
      clock.advance(GRACE)
      mesh([mallory], 2)
      mallory.collect()
      const floor = mallory.origin('mallory')?.floor.seq ?? 0
      assert.ok(floor >= 1, 'mallory, alone, collected her own ops')
      const carol = replica('carol')
      assert.equal(pull(carol, mallory).snapshot, true, 'carol, new, jumps mallory\'s ops on her attestation')
      // then an attestation of mallory's that names none of her own ops
      const [withdrawn] = mallory.write([{ key: attestationKey('mallory'), value: encodeAttestation(new Map()) }]) as [Op]
      mallory.markDurable(withdrawn.seq)
      pull(carol, mallory)
      assert.equal(carol.vector().mallory, withdrawn.seq)
      put(alice, 'a', '1')
      assert.match(pull(carol, alice).aborted ?? '', /lacks ops this node has collected/, 'alice lacks the ops carol jumped: carol asks her nothing')
      assert.equal(pull(alice, carol).snapshot, false, 'not at once: no member\'s newest attestation reaches the floor')
      clock.advance(STUCK_MS)
      assert.equal(pull(alice, carol).snapshot, true, 'stuck past STUCK_MS, alice jumps as far as mallory once vouched (carol sends that attestation too)')
      assert.ok((alice.vector().mallory ?? 0) >= floor)
      pull(carol, alice)
      assert.equal(text(carol.get('a')?.value), '1', 'and carol pulls from alice again')
    })

    it('counts its time behind from the last offer only while offers keep finding it so: an old spell does not let one in at once', () => {
      const [, sam, nora] = collectedWithoutNora()
      const nick = replica('nick')
      put(nick, 'n', 'x')
      mesh([sam, nick], 2)
      assert.equal(pull(nora, sam).snapshot, false, 'found behind: the spell begins')
      clock.advance(FORGET_BEHIND_MS + 1)
      assert.equal(pull(nora, sam).snapshot, false, 'found behind again long after: a new spell, not one past STUCK_MS')
      clock.advance(STUCK_MS)
      assert.equal(pull(nora, sam).snapshot, true, 'behind through it: taken')
    })

    it('so does a node that never held an op of the writer (seed 9930): it cannot pull the ones below that floor either', () => {
      const [walt, sam, nora] = collectedWithoutNora()
      const floor = sam.origin('walt')?.floor.seq ?? 0
      // then sam hears nora, who attests holding walt's first op only; olga, new, has heard of none of them
      const said = attest(nora)
      assert.ok(said !== undefined)
      assert.equal(sam.receive([said], { via: 'gossip' }).applied, 1)
      const olga = replica('olga')
      pull(olga, sam)
      assert.equal(olga.vector().walt ?? 0, 0, 'not at once: no member but walt vouches for that floor')
      clock.advance(STUCK_MS)
      assert.equal(pull(olga, sam).snapshot, true, 'stuck behind it past STUCK_MS, olga takes it')
      assert.ok((olga.vector().walt ?? 0) >= floor)
      assert.ok((olga.vector().walt ?? 0) <= (walt.origin('walt')?.held.seq ?? 0), 'never past what walt himself attests')
      assert.equal(text(olga.get('a')?.value), '3')
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

    it('counts frames of no ops as bringing nothing: not delivered (hole 9), and STALE_MS of them end the pull', () => {
      const alice = replica('alice')
      put(alice, 'k', 'v')
      const bob = replica('bob')
      const session = new PullSession(bob, { group: 'g', name: 'bob', peer: 'alice' })
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
      assert.ok(frames <= STALE_MS / 1_000 + 1, `${frames} empty frames`)
      // and a frame of ops it takes does move a pull on
      const again = new PullSession(bob, { group: 'g', name: 'bob', peer: 'alice' })
      const frames2 = [...serve(alice, (wire(again.hello()) as { message: Hello }).message, { group: 'g', name: 'alice' })]
      assert.deepEqual(frames2.map(f => again.take(wire(f)).delivered), frames2.map(() => true))
      assert.equal(bob.get('k') === undefined, false)
    })

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
