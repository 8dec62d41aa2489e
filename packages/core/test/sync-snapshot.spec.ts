/**
 * Snapshots, in process over encoded frames: a new node behind the floors
 * takes attestations, rows, then the rest, whole or not at all; a node back
 * after its deletes were collected writes its unseen writes again; two
 * snapshot pulls at once, and two sides that each collected past the
 * retention, meet without bringing back a collected delete.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PullSession, STALE_MS, compareStamps, decodeFrame, encodeFrame, proveOps, serve, type Frame, type Op, type Replica } from '../src/index.js'
import { Clock, Keys, attest, bytes, mesh, pull, put, replicaFactory, rowsOf, storeFactory, tempDir, text, wire } from './helpers.js'

const dir = tempDir()
const keys = new Keys()
const GRACE = 1_000

/** Writes what `node` has to write again, as the daemon does after each pull. */
function reissue (node: Replica): void {
  const ops = node.write(node.rewrites())
  if (ops.length > 0) node.markDurable((ops.at(-1) as Op).seq)
}

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`sync (${kind})`, () => {
    const clock = new Clock()
    const replica = replicaFactory(keys, clock, storeFactory(kind, dir), { tombstoneGraceMs: GRACE })

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

    it('lets go, at the next look, an op that waited past a gap a snapshot filled', () => {
      const [alice, bob, dave] = ['alice', 'bob', 'dave'].map(id => replica(id, { retentionMs: 10_000 })) as [Replica, Replica, Replica]
      for (let i = 0; i < 5; i++) put(dave, `d${i}`, `v${i}`)
      put(alice, 'a', 'v')
      mesh([alice, bob, dave], 2)
      clock.advance(GRACE)
      mesh([alice, bob, dave], 2)
      // dave's last write reaches only carol, by gossip, and dave is gone: alice and bob collect all they hold of dave
      const late = put(dave, 'late', 'by gossip only')
      for (let round = 0; round < 10 && bob.status().floors.dave !== bob.vector().dave; round++) {
        clock.advance(3_000)
        mesh([alice, bob], 2)
        alice.collect(); bob.collect()
      }
      assert.equal(bob.status().floors.dave, late.seq - 1)
      const carol = replica('carol', { retentionMs: 10_000 })
      assert.equal(carol.receive([late], { via: 'gossip' }).waiting, 1, 'past a gap')
      // the snapshot fills the gap and brings no op of dave's: nothing else of dave's comes to let it go
      assert.equal(pull(carol, bob).snapshot, true)
      assert.deepEqual([carol.vector().dave, carol.status().waiting], [late.seq - 1, 1])
      assert.equal(carol.release().applied, 1)
      assert.equal(text(carol.get('late')?.value), 'by gossip only')
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
  })
}
