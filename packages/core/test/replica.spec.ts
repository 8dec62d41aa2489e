/**
 * The replica's inbound path: ops apply in each origin's order and only once
 * checked; nothing counts as held that was not applied (refused, waiting,
 * dropped, or lost to a failed commit); other versions of a seq are kept and
 * reported; and the pending buffer keeps to its budget.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PullSession, REHAND_MS, Replica, attestationKey, encodeAttestation, pendingSize, proveOps, type Op, type Store } from '../src/index.js'
import { Clock, Keys, attest, bytes, mesh, op, plain, pull, put, replicaFactory, storeFactory, tempDir, text } from './helpers.js'

const dir = tempDir()
const keys = new Keys()

for (const kind of ['memory', 'sqlite'] as const) {
  const open = storeFactory(kind, dir)

  describe(`replica inbound (${kind})`, () => {
    const clock = new Clock()
    const replica = replicaFactory(keys, clock, open)

    /** `count` ops written by a fresh replica `origin`, one write each. */
    function writes (origin: string, count: number, prefix = 'k'): Op[] {
      const writer = replica(origin)
      return Array.from({ length: count }, (_, i) => { clock.advance(1); return put(writer, `${prefix}${i}`, `v${i}`) })
    }

    it('applies ops in their origin\'s order: a later op waits for the gap, then both apply', () => {
      const [first, second, third] = writes('alice', 3) as [Op, Op, Op]
      const bob = replica('bob')
      const early = bob.receive([third, second], { via: 'gossip' })
      assert.equal(early.applied, 0)
      assert.equal(early.waiting, 2)
      assert.equal(early.gap, true)
      assert.deepEqual(bob.vector(), {})
      assert.equal(bob.get('k2'), undefined)
      const filled = bob.receive([first], { via: 'sync' })
      assert.deepEqual(filled.changed.map(o => o.key), ['k0', 'k1', 'k2'])
      assert.equal(filled.gap, false)
      assert.deepEqual(bob.vector(), { alice: 3 })
      assert.equal(bob.receive([first, second, third]).duplicates, 3)
    })

    it('refuses forged, altered, unsigned and off-list ops, and counts none of them', () => {
      const [real] = writes('alice', 1, 'real') as [Op]
      const bob = replica('bob', { members: ['alice', 'bob'] })
      const forged = op('real0', 'forged', { origin: 'alice', seq: 1, wall: real.wall })
      proveOps([forged], keys.signer('mallory'))
      const altered = { ...real, value: bytes('tampered') }
      const unsigned = op('x', 'y', { origin: 'alice', seq: 1 })
      const [outsider] = writes('carol', 1) as [Op]
      const result = bob.receive([forged, altered, unsigned, outsider])
      assert.deepEqual(result.refused.map(r => [r.reason, r.forged]), [
        ['bad signature', true], ['op does not match its signed batch', true], ['unsigned op', true], ['its origin is not on the allow-list', false]
      ])
      assert.deepEqual(bob.vector(), {})
      bob.receive([real])
      assert.deepEqual(bob.vector(), { alice: 1 })
      assert.equal(text(bob.get('real0')?.value), 'v0')
    })

    it('refuses an op stamped before its origin\'s previous op, and the rest of that origin waits behind it', () => {
      const alice = replica('alice')
      clock.advance(10)
      const first = put(alice, 'a', '1')
      const liar = op('b', 'backdated', { origin: 'alice', seq: 2, wall: first.wall - 5 })
      proveOps([liar], keys.signer('alice'))
      const bob = replica('bob')
      const result = bob.receive([first, liar])
      assert.deepEqual(result.refused.map(r => r.reason), ['stamped before its origin\'s previous op'])
      assert.deepEqual(bob.vector(), { alice: 1 })
      assert.equal(bob.get('b'), undefined)
    })

    it('holds ops stamped beyond the skew bound until the clock catches up, and refuses (without counting) those an hour ahead', () => {
      const fast = new Clock(clock.ms + 2 * 3_600_000)
      const ahead = replicaFactory(keys, fast, open)('fast')
      const far = put(ahead, 'far', 'from two hours ahead')
      fast.ms = clock.ms + 90_000
      const near = put(ahead, 'near', 'from 90 s ahead')
      const bob = replica('bob')
      const refused = bob.receive([far])
      assert.match(refused.refused[0]?.reason ?? '', /s ahead of this node's clock/)
      assert.deepEqual(bob.vector(), {}, 'a refused op is not counted: a later sync brings it again')
      const nearFirst = replicaFactory(keys, fast, open)('near')
      const soon = put(nearFirst, 'soon', 'x')
      const held = bob.receive([soon])
      assert.equal(held.held, 1)
      assert.equal(bob.get('soon'), undefined)
      clock.advance(40_000)
      assert.equal(bob.release().applied, 1)
      assert.equal(text(bob.get('soon')?.value), 'x')
      clock.advance(2 * 3_600_000)
      bob.receive([far, near])
      assert.deepEqual(bob.vector().fast, 2, 'once the clock allows, the same ops apply')
    })

    it('looks, each second, only at origins whose waiting ops the clock may now let go: not at every origin that waits past a gap', () => {
      const bob = replica('bob')
      // a member's ops, each of an origin of its own, each past a gap that never fills
      const signed = (one: Op): Op => { proveOps([one], keys.signer(one.origin)); return one }
      const gapped = Array.from({ length: 1_100 }, (_, i) => signed(op(`g${i}`, 'v', { origin: `sybil${i}`, seq: 2, wall: clock.ms })))
      const soon = signed(op('soon', 'x', { origin: 'fast', seq: 1, wall: clock.ms + 90_000 }))
      const taken = bob.receive([...gapped, soon])
      assert.deepEqual([taken.waiting, taken.held], [1_101, 1])
      // a pull's hello names the first 1,024 runs that wait, and looks at no more origins than that
      const ranges = bob.state.pending.ranges.bind(bob.state.pending)
      let named = 0
      bob.state.pending.ranges = (origin, limit) => { named++; return ranges(origin, limit) }
      const hello = new PullSession(bob, { group: 'g', name: 'bob', peer: 'alice' }).hello()
      assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
      assert.equal(Object.keys(hello.message.skip ?? {}).length, 1_024)
      assert.equal(named, 1_024)
      const looked: string[] = []
      const seqsIn = bob.state.pending.seqsIn.bind(bob.state.pending)
      bob.state.pending.seqsIn = (origin, after, upTo) => { looked.push(origin); return seqsIn(origin, after, upTo) }
      assert.equal(bob.release().applied, 0)
      assert.deepEqual(looked, [], 'nothing is due yet')
      clock.advance(31_000)
      assert.equal(bob.release().applied, 1)
      assert.equal(text(bob.get('soon')?.value), 'x')
      assert.deepEqual([...new Set(looked)], ['fast'], 'only the origin the clock let go')
      looked.length = 0
      clock.advance(60_000)
      assert.equal(bob.release().applied, 0)
      assert.deepEqual(looked, [])
      assert.equal(bob.status().waiting, 1_100)
    })

    it('over the waiting budget, lets ops of origins it holds nothing of go before those of origins it holds', () => {
      const [first, second, ...rest] = writes('alice', 12) as [Op, Op, ...Op[]]
      const bob = replica('bob', { pendingBytes: 40 * pendingSize(first) })
      bob.receive([first])
      // alice's later ops come first by gossip (her seq 2 is late): they wait
      assert.equal(bob.receive(rest, { via: 'gossip' }).waiting, 10)
      // a member's ops, each of an origin of its own, past a gap: four times what fits
      const signed = (one: Op): Op => { proveOps([one], keys.signer(one.origin)); return one }
      const flood = Array.from({ length: 120 }, (_, i) => signed(op(`f${i}`, 'v', { origin: `flood${i}`, seq: 2, wall: clock.ms })))
      bob.receive(flood, { via: 'gossip' })
      assert.ok(bob.status().waiting <= 40)
      // alice's seq 2 comes: every one of hers that waited applies
      assert.equal(bob.receive([second]).applied, 11)
      assert.deepEqual(bob.vector().alice, 12)
    })

    it('keeps a second op signed with a held seq, on its own key, and reports its origin', () => {
      const bob = replica('bob')
      const carol = replica('carol')
      const a = op('a', 'one', { origin: 'mallory', seq: 1, wall: clock.ms })
      const b = op('b', 'two', { origin: 'mallory', seq: 1, wall: clock.ms })
      proveOps([a], keys.signer('mallory'))
      proveOps([b], keys.signer('mallory'))
      bob.receive([a])
      carol.receive([b])
      assert.deepEqual(bob.vector(), carol.vector(), 'each counts seq 1 held')
      const taken = bob.receive([b])
      assert.deepEqual(taken.equivocations, [{ origin: 'mallory', seq: 1 }])
      carol.receive([a])
      for (const node of [bob, carol]) {
        assert.deepEqual(node.list().map(o => o.key), ['a', 'b'])
        assert.deepEqual(node.status().equivocators, { mallory: 1 })
      }
      assert.deepEqual(bob.origin('mallory'), carol.origin('mallory'), 'the same accumulator over both versions')
    })

    it('takes the op after a seq signed twice once it has the version stamped earlier: an order refusal asks for the held seq again (hostile seed 14630)', () => {
      const bob = replica('bob')
      const carol = replica('carol')
      const t = clock.ms
      clock.advance(10_000)
      const late = op('late', 'one', { origin: 'mallory', seq: 1, wall: t + 2_000 })
      const early = op('early', 'two', { origin: 'mallory', seq: 1, wall: t })
      const next = op('next', 'three', { origin: 'mallory', seq: 2, wall: t + 1_000 })
      for (const one of [late, early, next]) proveOps([one], keys.signer('mallory'))
      bob.receive([late])
      carol.receive([early])
      carol.receive([next])
      assert.equal(carol.vector().mallory, 2)
      // next is stamped before the version of seq 1 bob holds: refused; bob's vector names seq 1, so only asking for it again brings early
      const refused = bob.receive([next]).refused
      assert.deepEqual(refused.map(r => r.kind), ['order'])
      pull(bob, carol)
      assert.equal(bob.vector().mallory, 2, 'the pull after the refusal brought the earlier version of seq 1, and next after it')
      assert.deepEqual(bob.list().map(o => o.key), ['early', 'late', 'next'])
    })

    /** Ops `[key, value, seq, wall]` signed by mallory, each with a proof of its own. */
    function mallorys (specs: Array<[string, string, number, number]>): Op[] {
      const ops = specs.map(([key, value, seq, wall]) => op(key, value, { origin: 'mallory', seq, wall }))
      for (const one of ops) proveOps([one], keys.signer('mallory'))
      return ops
    }

    /**
     * bob and carol hold mallory's `first` (her seq 1) alone and collect it without her (she never attests, and is
     * silent past the retention): bob's floor is at her held seq. Returns bob, and dave, who holds nothing yet.
     */
    function floorAtHeld (first: Op): [Replica, Replica] {
      const [bob, carol, dave] = ['bob', 'carol', 'dave'].map(id => replica(id, { retentionMs: 60_000 })) as [Replica, Replica, Replica]
      bob.receive([first])
      carol.receive([first])
      clock.advance(70_000)
      mesh([bob, carol], 2)
      bob.collect()
      assert.deepEqual([bob.origin('mallory')?.floor.seq, bob.origin('mallory')?.held.seq], [1, 1], 'bob\'s floor is at mallory\'s held seq')
      return [bob, dave]
    }

    it('takes a version of the held seq it lacks even once its floor is at that seq, and the op after it (hostile seed 48908)', () => {
      const t = clock.ms
      const [late, early, next] = mallorys([['late', 'one', 1, t + 2_000], ['early', 'two', 1, t], ['next', 'three', 2, t + 1_000]]) as [Op, Op, Op]
      const [bob, dave] = floorAtHeld(late)
      // the other version, stamped earlier, and the op after both: dave holds them
      dave.receive([early])
      dave.receive([next])
      assert.equal(dave.vector().mallory, 2)
      assert.deepEqual(bob.receive([next]).refused.map(r => r.kind), ['order'], 'next is stamped before the version bob holds')
      // so bob asks for the held seq again, and takes the version he lacks though his floor is there
      pull(bob, dave)
      assert.equal(bob.vector().mallory, 2, 'the pull brought the earlier version of seq 1, and next after it')
      assert.deepEqual(['early', 'late', 'next'].map(key => text(bob.get(key)?.value)), ['two', 'one', 'three'])
      assert.deepEqual(bob.status().equivocators, { mallory: 1 })
      // a replay of either version changes nothing
      assert.equal(bob.receive([early, late]).duplicates, 2)
    })

    it('asks a member whose attestation disagrees with it at its floor for that seq again, and takes the version it lacks there', () => {
      const t = clock.ms
      const [first, other] = mallorys([['first', 'one', 1, t + 2_000], ['other', 'two', 1, t]]) as [Op, Op]
      const [bob, dave] = floorAtHeld(first)
      // dave holds both versions, and says so in his attestation; no later op of mallory's is refused for order here
      dave.receive([other])
      dave.receive([first])
      attest(dave)
      pull(bob, dave)
      bob.collect()
      assert.equal(bob.get('other'), undefined)
      pull(bob, dave)
      assert.equal(text(bob.get('other')?.value), 'two', 'the pull after the disagreement asked for mallory\'s seq 1 again')
      assert.deepEqual(bob.origin('mallory')?.held.acc, dave.origin('mallory')?.held.acc, 'the same accumulator over both versions')
      assert.deepEqual(bob.origin('mallory')?.floor, bob.origin('mallory')?.held, 'the floor\'s mark is of what bob holds there')
    })

    it('never takes again a version of the held seq at its floor that it held and collected, though another is still a row there', () => {
      const t = clock.ms
      const [kept, lost] = mallorys([['a', 'one', 1, t], ['b', 'two', 1, t + 1_000]]) as [Op, Op]
      const [bob, carol] = ['bob', 'carol'].map(id => replica(id, { retentionMs: 60_000 })) as [Replica, Replica]
      for (const node of [bob, carol]) {
        node.receive([kept])
        node.receive([lost])
      }
      // carol writes b over mallory's second version: superseded, it goes with collection; the first stays a row
      bob.receive([put(carol, 'b', 'three')])
      clock.advance(70_000)
      mesh([bob, carol], 2)
      bob.collect()
      assert.deepEqual([bob.origin('mallory')?.floor.seq, bob.origin('mallory')?.held.seq], [1, 1], 'bob\'s floor is at mallory\'s held seq')
      assert.equal(bob.store.digestsAt('mallory', 1).length, 1, 'the superseded version was collected, the other is still a row')
      const acc = bob.origin('mallory')?.held.acc
      // a replay of the collected version is known, not a version bob never held: it changes nothing
      assert.equal(bob.receive([lost]).duplicates, 1)
      assert.deepEqual(bob.origin('mallory')?.held.acc, acc)
      assert.deepEqual([text(bob.get('a')?.value), text(bob.get('b')?.value)], ['one', 'three'])
    })

    it('writes again the keys of both versions of a seq it finds signed twice, so a node whose floor passed that seq agrees (hostile seed 70314)', () => {
      const t = clock.ms
      clock.advance(10_000)
      const [first, second, late] = mallorys([['first', 'one', 1, t], ['second', 'two', 2, t + 1_000], ['late', 'three', 1, t + 5_000]]) as [Op, Op, Op]
      const [bob, carol, dave] = ['bob', 'carol', 'dave'].map(id => replica(id, { retentionMs: 60_000 })) as [Replica, Replica, Replica]
      for (const node of [bob, carol]) node.receive([first, second])
      clock.advance(70_000)
      mesh([bob, carol], 2)
      bob.collect()
      assert.deepEqual([bob.origin('mallory')?.floor.seq, bob.origin('mallory')?.held.seq], [2, 2], 'bob collected past mallory\'s seq 1')
      // mallory shows her other version of seq 1 late: bob cannot tell it from a replay, and never takes it
      assert.equal(bob.receive([late]).duplicates, 1)
      assert.equal(bob.get('late'), undefined)
      // dave, whose floor is below it, holds both versions: each is its key's row there, and both are named to be written again
      dave.receive([first, second])
      const found = dave.receive([late])
      assert.deepEqual(found.equivocations, [{ origin: 'mallory', seq: 1 }])
      const again = dave.rewrites()
      assert.deepEqual(again.map(c => [c.key, text(c.value)]).sort(), [['first', 'one'], ['late', 'three']])
      const written = dave.write(again)
      dave.markDurable(Math.max(...written.map(w => w.seq)))
      assert.deepEqual(dave.rewrites(), [], 'written: no longer due')
      // bob takes dave's writes: the key he could not take the version of now holds the same value as on dave
      bob.receive(written)
      for (const key of ['first', 'late']) assert.equal(text(bob.get(key)?.value), text(dave.get(key)?.value), key)
      assert.deepEqual(bob.list().map(plain), dave.list().map(plain))
    })

    it('counts a member that lacks only a second version it holds as asked about, without asking it (hostile seed 70229)', () => {
      const t = clock.ms
      const [first, late] = mallorys([['first', 'one', 1, t], ['late', 'two', 1, t + 5_000]]) as [Op, Op]
      const [bob, carol, dave] = ['bob', 'carol', 'dave'].map(id => replica(id, { retentionMs: 60_000, tombstoneGraceMs: 1_000 })) as [Replica, Replica, Replica]
      for (const node of [bob, carol, dave]) node.receive([first])
      // mallory shows dave alone her other version of seq 1
      assert.deepEqual(dave.receive([late]).equivocations, [{ origin: 'mallory', seq: 1 }])
      put(bob, 'x', 'v')
      put(bob, 'x', null)
      clock.advance(70_000)
      mesh([bob, carol], 2)
      // dave takes bob's and carol's ops and attestations as they come, by no pull of his own: asking either again would be one
      for (const node of [bob, carol]) dave.receive(node.store.opsOf(node.nodeId, 0, 1_000))
      attest(dave)
      assert.equal(dave.get('x')?.value, null, 'bob\'s delete is here, a tombstone')
      const collected = dave.collect()
      // both attest mallory's seq 1 without the version only dave holds: they lack it, and hold nothing he lacks
      assert.deepEqual(dave.rechecksDue(), [], 'neither is due to be asked again')
      assert.equal(collected.blocked, undefined)
      assert.equal(collected.tombstones, 1, 'bob\'s delete is collected without asking them')
      assert.equal(dave.get('x'), undefined)
      assert.equal(dave.origin('mallory')?.floor.seq, 0, 'mallory\'s ops stay where they were: they disagree on them')
      // a member that holds a version dave lacks is asked: carol, shown a third version of seq 1
      const [third] = mallorys([['third', 'three', 1, t + 6_000]]) as [Op]
      carol.receive([third])
      attest(carol)
      dave.receive(carol.store.opsOf('carol', 0, 1_000))
      dave.collect()
      assert.deepEqual(dave.rechecksDue(), ['carol'])
    })

    it('counts a member that lacks what a member it asked lacked, and holds what it held, as asked about without asking it (hostile seed 52779)', () => {
      const t = clock.ms
      const [first, next, late] = mallorys([['first', 'one', 1, t], ['next', 'two', 2, t + 1_000], ['late', 'three', 1, t + 5_000]]) as [Op, Op, Op]
      // bob's and carol's floors follow the group's a long while after it, dave's at once
      const slow = { retentionMs: 60_000, tombstoneGraceMs: 1_000, floorLagMs: 3_600_000 }
      const [bob, carol] = ['bob', 'carol'].map(id => replica(id, slow)) as [Replica, Replica]
      const dave = replica('dave', { ...slow, floorLagMs: 0 })
      for (const node of [bob, carol, dave]) node.receive([first, next])
      clock.advance(70_000)
      mesh([bob, carol, dave], 2)
      for (const node of [bob, carol, dave]) node.collect()
      assert.deepEqual([dave.origin('mallory')?.floor.seq, bob.origin('mallory')?.floor.seq, carol.origin('mallory')?.floor.seq], [2, 0, 0])
      // mallory's other version of seq 1: bob and carol take it, dave cannot (its floor passed it)
      for (const node of [bob, carol]) assert.deepEqual(node.receive([late]).equivocations, [{ origin: 'mallory', seq: 1 }])
      assert.equal(dave.receive([late]).duplicates, 1)
      put(bob, 'y', 'v')
      put(bob, 'y', null)
      carol.receive(bob.store.opsOf('bob', 0, 1_000))
      clock.advance(2_000)
      for (const node of [bob, carol]) attest(node)
      // dave asks bob, whose attestation disagrees with him on mallory's ops: bob sends all he has (nothing dave can take)
      pull(dave, bob)
      dave.collect()
      assert.deepEqual(dave.rechecksDue(), ['bob'])
      pull(dave, bob)
      // carol's attestation comes by no pull of dave's: it disagrees as bob's did
      dave.receive(carol.store.opsOf('carol', 0, 1_000))
      attest(dave)
      const collected = dave.collect()
      assert.deepEqual(dave.rechecksDue(), [], 'carol is not due to be asked: she differs from dave as bob did')
      assert.equal(collected.blocked, undefined)
      assert.equal(dave.get('y'), undefined, 'bob\'s delete is collected')
    })

    it('keeps the seqs signed twice of the last 256 origins to sign one, not of every origin ever (sybils)', () => {
      const bob = replica('bob')
      for (let i = 0; i < 300; i++) {
        const origin = `twice${i}`
        const [a, b] = [op('a', `one${i}`, { origin, seq: 1, wall: clock.ms }), op('b', `two${i}`, { origin, seq: 1, wall: clock.ms })]
        for (const one of [a, b]) proveOps([one], keys.signer(origin))
        bob.receive([a])
        assert.equal(bob.receive([b]).equivocations.length, 1)
      }
      const kept = JSON.parse(bob.store.meta('twice') ?? '{}') as Record<string, number[]>
      assert.equal(Object.keys(kept).length, 256)
      assert.deepEqual(kept.twice299, [1])
      assert.equal(kept.twice0, undefined, 'the first to sign twice went first')
    })

    it('hands out the writes again still due on a full disk, where dropping the others from meta fails (hostile seed 53939)', () => {
      const t = clock.ms
      const [a, b] = mallorys([['a', 'one', 1, t], ['b', 'two', 1, t + 1_000]]) as [Op, Op]
      const store = open()
      let full = false
      const flaky: Store = Object.create(store, {
        setMeta: { value: (name: string, value: string): void => { if (full) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }); store.setMeta(name, value) } }
      })
      const bob = new Replica({ store: flaky, nodeId: 'bob', now: clock.now, verify: keys.verify })
      bob.receive([a])
      bob.receive([b])
      // carol writes a over mallory's version: its write again is no longer due, and goes from meta when handed out
      const carol = replica('carol')
      carol.receive([a])
      bob.receive([put(carol, 'a', 'three')])
      full = true
      assert.deepEqual(bob.rewrites().map(c => [c.key, text(c.value)]), [['b', 'two']])
      full = false
      assert.deepEqual(JSON.parse(store.meta('rewrites') ?? '[]').map((r: unknown[]) => r[0]).sort(), ['a', 'b'], 'a is still named on disk')
      assert.deepEqual(bob.rewrites(), [], 'b was handed out: not again while its write may be on its way')
      assert.deepEqual(JSON.parse(store.meta('rewrites') ?? '[]').map((r: unknown[]) => r[0]), ['b'], 'a goes from meta at the next call')
      clock.advance(REHAND_MS)
      assert.deepEqual(bob.rewrites().map(c => c.key), ['b'])
    })

    it('counts nothing from a commit that failed, so the same ops apply on the next delivery', () => {
      const [first, second] = writes('alice', 2) as [Op, Op]
      const store = open()
      let failing = false
      const flaky: Store = Object.create(store, {
        transaction: { value: <T>(fn: () => T): T => store.transaction(() => { const r = fn(); if (failing) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }); return r }) }
      })
      const bob = new Replica({ store: flaky, nodeId: 'bob', now: clock.now, verify: keys.verify })
      failing = true
      assert.throws(() => bob.receive([first, second]), /disk is full/)
      assert.deepEqual(bob.vector(), {})
      assert.equal(bob.get('k0'), undefined)
      failing = false
      bob.receive([first, second])
      assert.deepEqual(bob.vector(), { alice: 2 })
    })

    it('keeps waiting ops within their byte budget, dropping the furthest ahead first', () => {
      const ops = writes('alice', 40, 'budget')
      // each proof is charged once while any op that holds it waits (here each put is a batch of its own)
      const proofs = new Set(ops.slice(1, 11).map(o => o.proof))
      const budget = ops.slice(1, 11).reduce((sum, o) => sum + pendingSize(o), 0) + [...proofs].reduce((sum, p) => sum + (p?.digests.byteLength ?? 0), 0)
      const bob = replica('bob', { pendingBytes: budget })
      bob.receive(ops.slice(1), { via: 'gossip' })
      const status = bob.status()
      assert.ok(status.waitingBytes <= budget, `${status.waitingBytes} bytes waiting`)
      assert.equal(status.waiting, 10)
      // seq 1 needs no room: it applies at once, and everything waiting behind it
      bob.receive([ops[0] as Op])
      assert.deepEqual(bob.vector(), { alice: 11 }, 'the ops nearest the gap were kept')
      bob.receive(ops)
      assert.deepEqual(bob.vector(), { alice: 40 })
    })

    it('writes only user keys and its own attestation; takes an attestation only from its owner, and only well-formed', () => {
      const alice = replica('alice')
      assert.throws(() => alice.write([{ key: '\u0000mine', value: bytes('x') }]), /reserved/)
      const forgedRecord = op(attestationKey('bob'), 'x', { origin: 'alice', seq: 1, wall: clock.ms })
      const junk = op(attestationKey('alice'), 'not an attestation', { origin: 'alice', seq: 1, wall: clock.ms })
      proveOps([forgedRecord], keys.signer('alice'))
      proveOps([junk], keys.signer('alice'))
      const lateMark = { key: attestationKey('alice'), value: encodeAttestation(new Map([['bob', { seq: 1, wall: clock.ms + 10, logical: 0, acc: new Uint8Array(32) }]])), wall: clock.ms, logical: 0, origin: 'alice', seq: 1 }
      proveOps([lateMark], keys.signer('alice'))
      const result = replica('bob').receive([forgedRecord, junk, lateMark])
      assert.deepEqual(result.refused.map(r => r.reason.replace(/ [0-9]+ /, ' N ')), [
        `an attestation for bob written by alice`, 'unknown attestation version 110', 'attestation mark for bob is stamped at or after the attestation'
      ])
    })

    it('lists, gets and counts user keys only', () => {
      const alice = replica('alice')
      put(alice, 'x', '1')
      const change = alice.attestation()
      assert.ok(change !== undefined)
      alice.write([change])
      assert.deepEqual(alice.list().map(plain).map(o => (o as { key: string }).key), ['x'])
      assert.equal(alice.get(attestationKey('alice')), undefined)
      assert.deepEqual(alice.counts(), { keys: 1, tombstones: 0 })
    })

    if (kind === 'sqlite') {
      it('looks up the ops it holds already in one read transaction, not one per op', () => {
        const ops = writes('alice', 20)
        const bob = replica('bob')
        bob.receive(ops, { via: 'sync' })
        const store = bob.store as Store & { db: { inTransaction: boolean } }
        const lookups: boolean[] = []
        const digestsAt = store.digestsAt.bind(store)
        store.digestsAt = (origin, seq) => { lookups.push(store.db.inTransaction); return digestsAt(origin, seq) }
        assert.equal(bob.receive(ops, { via: 'sync' }).duplicates, 20)
        assert.equal(lookups.length, 20, 'each op at or below the held seq was looked up')
        assert.ok(lookups.every(inside => inside), 'every lookup ran inside a transaction')
        assert.equal(store.db.inTransaction, false, 'which ended with the call')
      })
    }
  })
}
