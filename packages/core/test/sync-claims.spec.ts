/**
 * A member's claims in a snapshot offer (its attestations, its floors) never
 * become this node's state on their word alone: no snapshot for a node up to
 * date, no origin jumped that nothing here speaks of, a floor no member
 * reaches taken only after STUCK_MS and only as far as the writer vouches.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FORGET_BEHIND_MS, PullSession, STUCK_MS, attestationKey, encodeAttestation, serve, type Frame, type Hello, type Op, type PullResult, type Replica, type ReplicaInit } from '../src/index.js'
import { Clock, Keys, attest, mesh, pull, put, replicaFactory, rowsOf, storeFactory, tempDir, text, wire } from './helpers.js'

const dir = tempDir()
const keys = new Keys()
const GRACE = 1_000

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`sync (${kind})`, () => {
    const clock = new Clock()
    const replica = replicaFactory(keys, clock, storeFactory(kind, dir), { tombstoneGraceMs: GRACE })

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
    function collectedWithoutNora (noraInit: Partial<ReplicaInit> = {}): [Replica, Replica, Replica] {
      const [walt, sam, nora] = ['walt', 'sam', 'nora'].map(id => replica(id, id === 'nora' ? noraInit : {})) as [Replica, Replica, Replica]
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

    for (const stuckMs of [undefined, 5_000]) {
      it(`a node stuck behind a floor no member reaches takes it after ${stuckMs === undefined ? 'STUCK_MS' : `stuckMs ${stuckMs}`}, as far as the writer vouches`, () => {
        const [walt, sam, nora] = collectedWithoutNora(stuckMs === undefined ? {} : { stuckMs })
        const wait = stuckMs ?? STUCK_MS
        // then sam meets a newcomer that has not heard of walt: no member's attestation now reaches walt's floor
        const nick = replica('nick')
        put(nick, 'n', 'x')
        mesh([sam, nick], 2)
        assert.equal(nora.vector().walt, 1)
        assert.equal(pull(nora, sam).snapshot, false, 'not at once: nora may yet hear from the group')
        clock.advance(wait - 1)
        assert.equal(pull(nora, sam).snapshot, false, 'nor a millisecond before the wait')
        assert.equal(nora.vector().walt, 1)
        clock.advance(1)
        assert.equal(pull(nora, sam).snapshot, true, `stuck behind it for ${wait} ms, she takes it`)
        assert.ok((nora.vector().walt ?? 0) >= (sam.origin('walt')?.floor.seq ?? 0))
        assert.ok((nora.vector().walt ?? 0) <= (walt.origin('walt')?.held.seq ?? 0), 'never past what walt himself attests')
        assert.equal(text(nora.get('a')?.value), '3')
      })
    }

    /** A pull over 3.2.0 (`declines`), as `pull` does it: the hello sent, and the kind of each frame the puller took. */
    function pullSeen (puller: Replica, server: Replica, declines = true): { result: PullResult, hello: Hello, took: string[] } {
      const session = new PullSession(puller, { group: 'g', name: puller.nodeId, peer: server.nodeId, declines })
      const hello = wire(session.hello())
      assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
      const took: string[] = []
      for (const frame of serve(server, hello.message, { group: 'g', name: server.nodeId, pageOps: 7, frameBytes: 300 })) {
        if (session.done) break
        took.push(frame.kind)
        session.take(wire(frame))
      }
      assert.ok(session.done, 'the pull ended')
      return { result: session.result, hello: hello.message, took }
    }

    it('a declined snapshot\'s rows are not read: the pull ends at the first, the next asks for none and takes the ops after them; stuck past STUCK_MS, it asks for them and takes the snapshot', () => {
      const [walt, sam, nora] = collectedWithoutNora()
      const nick = replica('nick')
      // rows enough for several frames: sam's own writes, collected with walt (nora has heard of neither)
      for (let i = 0; i < 20; i++) put(sam, `s${i}`, 'x'.repeat(40))
      mesh([walt, sam], 2)
      clock.advance(GRACE)
      mesh([walt, sam], 2)
      sam.collect()
      mesh([sam, nick], 2)
      put(nick, 'after', 'the floors')
      pull(sam, nick)
      const rows = (took: string[]): number => took.filter(kind => kind === 'import').length
      assert.ok(rows(pullSeen(nora, sam, false).took) > 3, 'a 3.1.0 pull still reads them all, as before (this fixture has several frames of them)')
      const first = pullSeen(nora, sam)
      assert.equal(first.hello.rows, undefined, 'the first pull asks for the rows')
      assert.equal(first.result.snapshot, false)
      assert.equal(first.result.declined, true)
      assert.match(first.result.aborted ?? '', /declined the snapshot/)
      assert.equal(rows(first.took), 1, `it ended at the first row: ${first.took.join(' ')}`)
      const second = pullSeen(nora, sam)
      assert.equal(second.hello.rows, false, 'the next asks for none')
      assert.equal(rows(second.took), 0, `hello, attestations, ops, done: ${second.took.join(' ')}`)
      assert.ok(second.took.includes('attest'), 'the attestations still come: the gate decides again from them')
      assert.equal(second.result.snapshot, false)
      assert.equal(second.result.declined, undefined)
      assert.equal(text(nora.get('after')?.value), 'the floors', 'the ops after the rows came')
      assert.equal(nora.vector().walt, 1, 'walt not jumped')
      // a server that sends the rows all the same, to have each checked for nothing, breaks the protocol
      const ignoring = new PullSession(nora, { group: 'g', name: 'nora', peer: 'sam', declines: true })
      const asked = wire(ignoring.hello())
      assert.ok(asked.kind === 'control' && asked.message.t === 'hello' && asked.message.rows === false)
      const { rows: _, ...deaf } = asked.message
      assert.throws(() => {
        for (const frame of serve(sam, deaf, { group: 'g', name: 'sam', pageOps: 7, frameBytes: 300 })) ignoring.take(wire(frame))
      }, /snapshot rows sent to a hello that asked for none/)
      const before = rowsOf(nora.store)
      clock.advance(STUCK_MS)
      const wanted = pullSeen(nora, sam)
      assert.equal(wanted.hello.rows, false)
      assert.equal(wanted.result.declined, undefined)
      assert.equal(wanted.result.wanted, true, 'stuck long enough: it would take the snapshot now, and asks again at once')
      assert.equal(wanted.result.snapshot, false, 'not from a pull without its rows')
      assert.deepEqual(rowsOf(nora.store), before, 'no row dropped for want of the rows')
      const taken = pullSeen(nora, sam)
      assert.equal(taken.hello.rows, undefined, 'the rows asked for again')
      assert.equal(taken.result.snapshot, true)
      assert.equal(text(nora.get('a')?.value), '3')
      assert.ok((nora.vector().walt ?? 0) <= (walt.origin('walt')?.held.seq ?? 0))
      // once a STUCK_MS per server: a server that had it decline and want by turns would keep it pulling back to back
      const [, server, again] = collectedWithoutNora()
      mesh([server, replica('nick')], 2)
      assert.equal(pullSeen(again, server).result.declined, true)
      clock.advance(STUCK_MS)
      assert.equal(pullSeen(again, server).result.wanted, true)
      again.state.declined.add('sam') // as if the rows pull that followed had been declined
      const soon = pullSeen(again, server)
      assert.equal(soon.hello.rows, false)
      assert.equal(soon.result.wanted, undefined, 'not at once a second time within STUCK_MS')
      assert.equal(again.state.declined.has('sam'), false, 'but the next pull from sam asks for the rows')
      clock.advance(STUCK_MS)
      again.state.declined.add('sam')
      assert.equal(pullSeen(again, server).result.wanted, true, 'and at once again after STUCK_MS')
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
  })
}
