/**
 * Collection against members that lie or disagree: an attestation that
 * claims ops no one holds, one checked only from an older one, a member that
 * signed two ops under one seq, one whose marks disagree on one origin, one
 * silent past the retention. Each holds back at most what it could make
 * unsafe, and never more than the retention.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PullSession, attestationKey, encodeAttestation, proveOps, serve, xorInto, type Hello, type Op, type Replica } from '../src/index.js'
import { Clock, Keys, attest, mesh, op, pull, put, replicaFactory, rowsOf, storeFactory, tempDir, text } from './helpers.js'

const dir = tempDir()
const keys = new Keys()
const GRACE = 1_000

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`collection (${kind})`, () => {
    const clock = new Clock()
    const replica = replicaFactory(keys, clock, storeFactory(kind, dir), { tombstoneGraceMs: GRACE })

    /** Bob's next attestation, validly signed, claiming 1,000 ops of alice's that no one can confirm. */
    function lieOfBob (bob: Replica): Op {
      const marks = new Map([['alice', 1_000], ['bob', bob.vector().bob ?? 0]].map(([origin, seq]) => [origin as string, { seq: seq as number, wall: clock.ms, logical: 0, acc: new Uint8Array(32) }]))
      const [lie] = bob.write([{ key: attestationKey('bob'), value: encodeAttestation(marks) }]) as [Op]
      bob.markDurable(lie.seq)
      return lie
    }

    /** Mallory signs her next seq twice, a for bob and b for carol, and each takes his; returns the seq. */
    function equivocate (mallory: Replica, bob: Replica, carol: Replica): number {
      const seq = (mallory.vector().mallory ?? 0) + 1
      const [a, b] = [op('a', 'for bob', { origin: 'mallory', seq, wall: clock.ms }), op('b', 'for carol', { origin: 'mallory', seq, wall: clock.ms })]
      proveOps([a], keys.signer('mallory'))
      proveOps([b], keys.signer('mallory'))
      bob.receive([a])
      carol.receive([b])
      return seq
    }

    it('a member whose newest attestation claims ops no one holds still counts with the last one that checked out', () => {
      // with the lag, the cut alice sees now becomes her floors only later, when bob has lied meanwhile
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id, { floorLagMs: GRACE })) as [Replica, Replica]
      put(alice, 'doomed', 'v')
      mesh([alice, bob])
      put(alice, 'doomed', null)
      mesh([alice, bob])
      assert.equal(alice.collect().tombstones, 0) // checks bob's attestation, which holds the delete
      // bob's next attestation, validly signed, claims 1,000 ops of alice's: she cannot confirm it
      const lie = lieOfBob(bob)
      pull(alice, bob)
      clock.advance(GRACE)
      const collected = alice.collect()
      assert.equal(alice.store.row(attestationKey('bob'))?.seq, lie.seq, 'alice holds the lie')
      assert.equal(collected.tombstones, 1, 'bob\'s last checked attestation holds the delete: the lie blocks nothing')
      assert.ok((alice.status().floors.alice ?? 0) < 1_000, 'and moves no floor past what alice holds')
    })

    it('a node that never checked a member\'s attestation before it lied finds the member\'s last good one in history', () => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id)) as [Replica, Replica]
      put(alice, 'doomed', 'v')
      mesh([alice, bob])
      put(alice, 'doomed', null)
      mesh([alice, bob])
      const honest = bob.store.row(attestationKey('bob')) as Op
      const lie = lieOfBob(bob)
      pull(alice, bob)
      // carol (new, or back from a restart) learns bob's attestations only now: the lie is the newest, the honest one in history
      const carol = replica('carol')
      pull(carol, alice)
      attest(carol)
      assert.equal(carol.store.row(attestationKey('bob'))?.seq, lie.seq)
      assert.deepEqual(carol.store.supersededOf('bob', attestationKey('bob'), 1).map(o => o.seq), [honest.seq])
      clock.advance(GRACE)
      const collected = carol.collect()
      assert.equal(collected.blocked, undefined, 'bob counts with his honest attestation')
      assert.equal(collected.tombstones, 1, 'carol collects the delete as alice does')
      assert.ok((carol.status().floors.alice ?? 0) < 1_000, 'and moves no floor past what carol holds')
    })

    it('a node that checked only an older attestation of a member before it lied counts the member as the others do', () => {
      const [alice, bob, carol] = ['alice', 'bob', 'carol'].map(id => replica(id)) as [Replica, Replica, Replica]
      put(alice, 'doomed', 'v')
      mesh([alice, bob, carol])
      // carol checks bob's attestation of then (it passes), then hears nothing for a while
      assert.equal(carol.collect().blocked, undefined)
      put(alice, 'doomed', null)
      mesh([alice, bob])
      const honest = bob.store.row(attestationKey('bob')) as Op
      const lie = lieOfBob(bob)
      pull(alice, bob)
      // carol gets bob's newer honest attestation and the lie in one pull: the last one that passed on her is the older
      pull(carol, alice)
      attest(carol)
      pull(alice, carol)
      assert.equal(carol.store.row(attestationKey('bob'))?.seq, lie.seq)
      assert.deepEqual(carol.store.supersededOf('bob', attestationKey('bob'), 1).map(o => o.seq), [honest.seq])
      clock.advance(GRACE)
      assert.equal(alice.collect().tombstones, 1, 'alice, who checked bob\'s newer attestation, collects the delete')
      const collected = carol.collect()
      assert.equal(collected.tombstones, 1, 'and so does carol: bob counts with the newest of his earlier attestations that passes')
      assert.deepEqual(rowsOf(carol.store), rowsOf(alice.store))
    })

    it('checks an attestation far behind its own ops from a remembered mark, not from every digest since', () => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id)) as [Replica, Replica]
      const burst = (count: number): void => {
        for (let i = 0; i < count; i += 100) {
          const ops = alice.write(Array.from({ length: 100 }, (_, j) => ({ key: `k${(i + j) % 50}`, value: Buffer.from(String(i + j)) })))
          alice.markDurable((ops.at(-1) as Op).seq)
        }
      }
      burst(600)
      pull(bob, alice)
      attest(bob)
      const held = bob.vector().alice ?? 0
      burst(1_500) // alice writes on: bob's mark is 1,500 ops behind, past the last 512 she remembers
      pull(alice, bob)
      attest(alice)
      let read = 0
      const digestsIn = alice.store.digestsIn.bind(alice.store)
      alice.store.digestsIn = (origin, after, upTo) => {
        const digests = digestsIn(origin, after, upTo)
        read += digests.length
        return digests
      }
      const collected = alice.collect()
      assert.equal(collected.blocked, undefined, 'bob\'s attestation agrees with alice\'s ops')
      assert.equal(alice.status().floors.alice, held, 'and sets her floor')
      // the check and the new floor each start from a mark at most 256 seqs above bob's (from alice's held one: 1,500 each)
      assert.ok(read <= 2 * 256, `${read} digests read to check it`)
    })

    it('a member that showed different ops under one seq to different members holds back collection until both are everywhere', () => {
      const [bob, carol, mallory] = ['bob', 'carol', 'mallory'].map(id => replica(id)) as [Replica, Replica, Replica]
      put(mallory, 'm', 'honest start')
      mesh([bob, carol, mallory])
      clock.advance(5)
      const seq = equivocate(mallory, bob, carol)
      put(bob, 'x', 'deleted soon')
      clock.advance(1)
      put(bob, 'x', null)
      // bob and carol exchange only with each other; mallory stays away
      for (let i = 0; i < 3; i++) {
        attest(bob); attest(carol)
        pull(bob, carol); pull(carol, bob)
        clock.advance(GRACE)
        bob.collect(); carol.collect()
      }
      for (const node of [bob, carol]) {
        assert.deepEqual(node.list().filter(o => o.key === 'a' || o.key === 'b').map(o => text(o.value)), ['for bob', 'for carol'], node.nodeId)
        assert.deepEqual(node.status().equivocators, { mallory: seq })
      }
      assert.deepEqual(rowsOf(bob.store), rowsOf(carol.store))
    })

    it('a member whose attestation disagrees on one origin holds back only that origin\'s collection once asked again (seeds 9647, 9848)', () => {
      const [alice, bob, mallory] = ['alice', 'bob', 'mallory'].map(id => replica(id)) as [Replica, Replica, Replica]
      put(alice, 'a', 'v')
      put(bob, 'b', 'v')
      mesh([alice, bob, mallory])
      clock.advance(1)
      put(alice, 'a', null)
      put(bob, 'b', null)
      mesh([alice, bob, mallory])
      // mallory attests what she holds, but with a wrong digest accumulator for alice's ops
      const marks = new Map(['alice', 'bob', 'mallory'].flatMap(origin => {
        const held = mallory.origin(origin)?.held
        return held === undefined ? [] : [[origin, origin === 'alice' ? { ...held, acc: new Uint8Array(32).fill(7) } : held]]
      }))
      const [lie] = mallory.write([{ key: attestationKey('mallory'), value: encodeAttestation(marks) }])
      mallory.markDurable((lie as Op).seq)
      for (const node of [alice, bob]) pull(node, mallory)
      clock.advance(GRACE)
      for (const node of [alice, bob]) attest(node)
      pull(alice, bob); pull(bob, alice)
      clock.advance(GRACE)
      const deletes = (node: Replica): string[] => node.store.rows({ tombstones: true }).filter(o => o.key === 'a' || o.key === 'b').map(o => o.key)
      // not before each has asked mallory for alice's ops again: a version of them it lacked could be older than bob's delete (seed 9848)
      for (const node of [alice, bob]) {
        node.collect()
        assert.deepEqual(deletes(node), ['a', 'b'], `${node.nodeId} collects nothing before it asks mallory again`)
        assert.deepEqual(node.rechecksDue(), ['mallory'])
        assert.equal(pull(node, mallory).rechecked, 1, `${node.nodeId} asks mallory for alice's ops again`)
        assert.deepEqual(node.rechecksDue(), [])
        node.collect()
      }
      clock.advance(GRACE)
      for (const node of [alice, bob]) {
        node.collect()
        assert.deepEqual(deletes(node), ['a'], `${node.nodeId} collected bob's delete and kept alice's`)
        assert.equal(node.origin('alice')?.floor.seq ?? 0, 0, 'alice\'s ops stay where they were')
        assert.ok((node.origin('bob')?.floor.seq ?? 0) > 0)
      }
    })

    it('a member whose newer attestation disagrees no more than the one asked about is not asked again; one that disagrees otherwise is (hostile seed 45542)', () => {
      const [alice, bob, mallory] = ['alice', 'bob', 'mallory'].map(id => replica(id)) as [Replica, Replica, Replica]
      put(alice, 'a', 'v')
      put(bob, 'b', 'v')
      mesh([alice, bob, mallory])
      /** Mallory's next attestation: what she holds, but alice's accumulator XORed with `off`. */
      const attestation = (off: number): Op => {
        const marks = new Map(['alice', 'bob', 'mallory'].flatMap(origin => {
          const held = mallory.origin(origin)?.held
          return held === undefined ? [] : [[origin, origin === 'alice' ? { ...held, acc: xorInto(held.acc, new Uint8Array(32).fill(off)) } : held]]
        }))
        const [made] = mallory.write([{ key: attestationKey('mallory'), value: encodeAttestation(marks) }]) as [Op]
        mallory.markDurable(made.seq)
        return made
      }
      attestation(7)
      for (const node of [alice, bob]) {
        pull(node, mallory)
        node.collect()
        assert.deepEqual(node.rechecksDue(), ['mallory'], `${node.nodeId} must ask mallory for alice's ops again`)
        assert.equal(pull(node, mallory).rechecked, 1)
        assert.deepEqual(node.rechecksDue(), [])
      }
      // alice writes on and everyone takes it; mallory attests again, off from alice's ops as before: nothing new to ask
      put(alice, 'c', 'v')
      mesh([alice, bob, mallory])
      const same = attestation(7)
      for (const node of [alice, bob]) {
        node.receive([same])
        node.collect()
        assert.deepEqual(node.rechecksDue(), [], `${node.nodeId}: mallory's attestation ${same.seq} disagrees as the one asked about did`)
      }
      // off otherwise: it may name a version this node lacks, so it is asked again
      const other = attestation(9)
      for (const node of [alice, bob]) {
        node.receive([other])
        node.collect()
        assert.deepEqual(node.rechecksDue(), ['mallory'], `${node.nodeId}: mallory's attestation ${other.seq} disagrees otherwise`)
      }
    })

    it('asks a member whose attestation disagrees for its ops again above the floors, with its vector as it is (no snapshot), until one pull gets them all', () => {
      const [bob, carol, mallory] = ['bob', 'carol', 'mallory'].map(id => replica(id)) as [Replica, Replica, Replica]
      for (let i = 0; i < 3; i++) put(mallory, `m${i}`, 'v')
      mesh([bob, carol, mallory])
      clock.advance(GRACE)
      mesh([bob, carol, mallory])
      // bob collects what everyone holds of mallory; carol does not yet: bob's floor is above hers
      bob.collect()
      const floor = bob.status().floors.mallory ?? 0
      assert.ok(floor > (carol.status().floors.mallory ?? 0), 'bob\'s floor for mallory is above carol\'s')
      clock.advance(5)
      const seq = equivocate(mallory, bob, carol)
      clock.advance(GRACE)
      attest(bob)
      pull(carol, bob)
      carol.collect()
      const hello = (): Hello => {
        const frame = new PullSession(carol, { group: 'g', name: 'carol', peer: 'bob' }).hello()
        assert.ok(frame.kind === 'control' && frame.message.t === 'hello')
        return frame.message
      }
      const first = hello()
      assert.deepEqual(first.recheck, { mallory: carol.status().floors.mallory ?? 0 }, 'carol asks bob for mallory\'s ops again')
      assert.equal(first.vector.mallory, seq, 'with her vector as it is')
      const answer = serve(bob, first, { group: 'g', name: 'bob' }).next().value
      assert.ok(answer?.kind === 'control' && answer.message.t === 'hello' && answer.message.snapshot === undefined, 'bob answers without a snapshot')
      // that pull broke off after the hello: the next asks again, and gets bob's a, from his floor up
      assert.deepEqual(hello().recheck, first.recheck)
      const result = pull(carol, bob)
      assert.equal(result.snapshot, false)
      assert.equal(carol.get('a') === undefined ? undefined : text(carol.get('a')?.value), 'for bob')
      assert.deepEqual(carol.status().equivocators, { mallory: seq })
      // done: not asked again until bob attests anew
      assert.equal(hello().recheck, undefined)
    })

    it('a member silent past the retention no longer holds back collection', () => {
      const [alice, ghost] = ['alice', 'ghost'].map(id => replica(id, { retentionMs: 60_000 })) as [Replica, Replica]
      mesh([alice, ghost])
      put(alice, 'k', 'v')
      clock.advance(1)
      put(alice, 'k', null)
      attest(alice)
      clock.advance(GRACE)
      assert.equal(alice.collect().tombstones, 0)
      clock.advance(61_000)
      attest(alice)
      assert.equal(alice.collect().tombstones, 1)
      assert.deepEqual(alice.status().evicted, ['ghost'])
    })

    it('an attestation that claims more than this node holds counts for nothing yet', () => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id)) as [Replica, Replica]
      put(alice, 'k', 'v')
      mesh([alice, bob])
      const more = put(alice, 'more', 'x')
      pull(bob, alice)
      attest(bob)
      // alice hears bob's attestation (covering `more`) before... she holds `more` already; carol has not
      const carol = replica('carol')
      pull(carol, bob)
      assert.equal(carol.vector().alice, more.seq)
      clock.advance(GRACE)
      assert.equal(carol.collect().history, 0)
      assert.match(carol.status().blocked ?? '', /attest/)
      void (more as Op)
    })
  })
}
