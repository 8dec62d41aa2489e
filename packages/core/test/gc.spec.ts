/**
 * Collection: only what every member of the group holds (by signed
 * attestations, learnt through any peer), tombstones only after the grace
 * period, and nothing a replay or a hidden second version could bring back.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PullSession, REHAND_MS, SqliteStore, attestEvery, attestIntervalFor, attestMsPerOriginFor, attestationKey, decodeAttestation, encodeAttestation, proveOps, serve, type Hello, type Op, type Replica, type Store } from '../src/index.js'
import { Clock, Keys, attest, mesh, op, pull, put, replicaFactory, rowsOf, storeFactory, tempDir, text } from './helpers.js'

const dir = tempDir()
const keys = new Keys()
const GRACE = 1_000


describe('attestation pace for a grace', () => {
  it('waits a tenth of the grace (1–10 s), and a three-hundredth of it (100 ms–1 s) per origin named: about one attestation a second in a whole group', () => {
    assert.deepEqual([1_000, 30_000, 60_000, 300_000, 3_600_000].map(attestIntervalFor), [1_000, 3_000, 6_000, 10_000, 10_000])
    assert.deepEqual([1_000, 30_000, 60_000, 300_000, 3_600_000].map(attestMsPerOriginFor), [100, 100, 200, 1_000, 1_000])
    const every = (members: number, grace: number): number => attestEvery(members, attestIntervalFor(grace), attestMsPerOriginFor(grace))
    // murmurd's default grace (5 min): a small group keeps the interval; a large one attests once a second in all
    assert.deepEqual([3, 10, 30, 100].map(n => every(n, 300_000)), [10_000, 10_000, 30_000, 100_000])
    // a short grace (tests, simulations) keeps 100 ms an origin
    assert.equal(every(30, 2_000), 3_000)
  })
})

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

    it('attests at most once per 100 ms for each origin it names, so a large group\'s attestations do not grow with its square', () => {
      const hub = replica('hub', { attestMsPerOrigin: 100, attestIntervalMs: 1_000 })
      const writers = Array.from({ length: 20 }, (_, i) => replica(`w${i}`))
      const round = (): void => { for (const w of writers) { put(w, `k/${w.nodeId}`, String(clock.ms)); pull(hub, w) } }
      round()
      const firstAt = clock.ms
      assert.ok(attest(hub) !== undefined, 'the first is due at once')
      const times: number[] = []
      for (let ms = 100; ms <= 6_000; ms += 100) {
        clock.advance(100)
        round()
        if (attest(hub) !== undefined) times.push(clock.ms - firstAt)
      }
      // 21 origins (20 writers and the hub's own attestation): every 2.1 s, not every second
      assert.deepEqual(times, [2_100, 4_200])
      const few = replica('few', { attestMsPerOrigin: 100, attestIntervalMs: 1_000 })
      put(few, 'x', '1')
      assert.ok(attest(few) !== undefined)
      clock.advance(1_000)
      put(few, 'x', '2')
      assert.ok(attest(few) !== undefined, 'a small group keeps the interval')
    })

    it('a lone node drops superseded ops at once and its tombstones after the grace period', () => {
      const solo = replica('solo')
      put(solo, 'k', '1')
      clock.advance(1)
      put(solo, 'k', '2')
      clock.advance(1)
      put(solo, 'gone', 'x')
      clock.advance(1)
      put(solo, 'gone', null)
      attest(solo)
      assert.deepEqual(solo.collect(), { history: 2, tombstones: 0 })
      clock.advance(GRACE)
      assert.deepEqual(solo.collect(), { history: 0, tombstones: 1 })
      assert.deepEqual(solo.counts(), { keys: 1, tombstones: 0 })
    })

    it('a row collected as a newer write replaces it is one change, the write\'s: a watcher behind still gets a replay, not a snapshot', () => {
      const solo = replica('solo')
      put(solo, 'k', '1')
      put(solo, 'other', '1')
      attest(solo)
      solo.collect()
      assert.ok((solo.status().floors.solo ?? 0) >= 2, 'the floor passed k\'s row: it is collected as it loses')
      const { latest, floor } = solo.store.changeMarks()
      clock.advance(1)
      put(solo, 'k', '2')
      assert.deepEqual(solo.store.changeMarks(), { latest: latest + 1, floor }, 'one cursor, the write\'s; the floor stays')
      assert.deepEqual(solo.store.changes(latest, 10).map(({ cursor, op }) => [cursor, op.key, text(op.value)]), [[latest + 1, 'k', '2']])
      assert.deepEqual(solo.history('k', 10).map(past => text(past.op.value)), ['1'], 'still the key\'s past version, for history')
    })

    it('floors wait the lag: a new node meanwhile gets superseded ops in an ordinary pull, and a snapshot only after', () => {
      const alice = replica('alice', { floorLagMs: GRACE })
      put(alice, 'k', '1')
      clock.advance(1)
      put(alice, 'k', '2')
      attest(alice)
      assert.deepEqual(alice.collect(), { history: 0, tombstones: 0 }, 'what every member holds waits the lag')
      const carol = replica('carol', { floorLagMs: GRACE })
      assert.equal(pull(carol, alice).snapshot, false, 'nothing collected yet: an ordinary pull')
      assert.deepEqual(rowsOf(carol.store), rowsOf(alice.store))
      assert.equal(carol.vector().alice, alice.vector().alice, 'carol holds every op of alice')
      clock.advance(GRACE / 2)
      assert.equal(alice.collect().history, 0, 'half the lag: still held')
      clock.advance(GRACE / 2)
      assert.equal(alice.collect().history, 1, 'the lag passed: the superseded op goes')
      const dave = replica('dave', { floorLagMs: GRACE })
      assert.equal(pull(dave, alice).snapshot, true, 'now a new node is behind the floors')
      assert.deepEqual(rowsOf(dave.store), rowsOf(alice.store))
    })

    it('a node that caught up from a snapshot attests what it now holds at once, not at the heartbeat', () => {
      const alice = replica('alice')
      put(alice, 'k', '1')
      clock.advance(1)
      put(alice, 'k', '2')
      attest(alice)
      assert.equal(alice.collect().history, 1)
      const dave = replica('dave')
      assert.ok(attest(dave) !== undefined, 'dave attests that he holds nothing')
      clock.advance(1)
      assert.equal(pull(dave, alice).snapshot, true)
      // no op of a member's came by sync or gossip: only the snapshot moved what dave holds. His stale attestation would
      // hold every member's collection back until the heartbeat (seed 9545: past the end of the run)
      const next = attest(dave)
      assert.ok(next !== undefined, 'dave attests again')
      assert.equal(decodeAttestation(next).marks.get('alice')?.seq, alice.vector().alice)
    })

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

    it('collects a tombstone only once every member has attested to holding it, then on every node alike', () => {
      const [alice, bob, carol] = ['alice', 'bob', 'carol'].map(id => replica(id)) as [Replica, Replica, Replica]
      put(alice, 'doomed', 'v')
      mesh([alice, bob, carol])
      clock.advance(10)
      const deleted = put(alice, 'doomed', null)
      pull(bob, alice)
      attest(alice)
      attest(bob)
      pull(alice, bob)
      clock.advance(GRACE)
      const blocked = alice.collect()
      assert.equal(blocked.tombstones, 0)
      assert.ok((alice.status().floors.alice ?? 0) < deleted.seq, 'carol\'s attestation holds the floor below the delete')
      mesh([alice, bob, carol])
      clock.advance(GRACE)
      for (const node of [alice, bob, carol]) assert.equal(node.collect().tombstones, 1, node.nodeId)
      assert.deepEqual(rowsOf(alice.store), rowsOf(carol.store))
      assert.equal(alice.status().floors.alice, bob.status().floors.alice)
    })

    it('a chain: a node never met directly still holds back the delete it has not seen, and nothing it wrote comes back', () => {
      // bob – alice – charlie: bob and charlie never meet
      const [alice, bob, charlie] = ['alice', 'bob', 'charlie'].map(id => replica(id)) as [Replica, Replica, Replica]
      put(alice, 'k', 'original')
      const chain = (rounds = 2): void => {
        for (let i = 0; i < rounds; i++) {
          for (const node of [alice, bob, charlie]) attest(node)
          pull(bob, alice); pull(alice, bob); pull(charlie, alice); pull(alice, charlie)
        }
      }
      chain()
      // charlie goes offline and writes k; later bob deletes it
      clock.advance(5)
      put(charlie, 'k', 'w-offline')
      clock.advance(5)
      const deleted = put(bob, 'k', null)
      for (let i = 0; i < 3; i++) {
        attest(alice); attest(bob)
        pull(alice, bob); pull(bob, alice)
        clock.advance(GRACE)
        assert.equal(bob.collect().tombstones, 0, 'charlie, known through alice, has not seen the delete')
        assert.equal(alice.collect().tombstones, 0)
      }
      assert.ok((bob.status().floors.bob ?? 0) < deleted.seq, 'the floor stays below the delete')
      // charlie comes back through bob only
      pull(charlie, bob); pull(bob, charlie)
      chain(3)
      pull(charlie, bob); pull(bob, charlie)
      clock.advance(GRACE)
      for (const node of [alice, bob, charlie]) {
        node.collect()
        assert.equal(node.get('k'), undefined, `${node.nodeId}: the delete (newer) wins, and stays`)
      }
      chain(2)
      for (const node of [alice, bob, charlie]) node.collect()
      assert.deepEqual(rowsOf(bob.store), rowsOf(alice.store))
      assert.deepEqual(rowsOf(charlie.store), rowsOf(alice.store))
    })

    it('a genuine op replayed after its delete was collected changes nothing, by gossip or by sync', () => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id)) as [Replica, Replica]
      const secret = put(bob, 'secret', 'launch-codes')
      mesh([alice, bob])
      clock.advance(5)
      put(bob, 'secret', null)
      mesh([alice, bob])
      clock.advance(GRACE)
      mesh([alice, bob])
      for (const node of [alice, bob]) {
        node.collect()
        assert.equal(node.counts().tombstones, 0)
      }
      for (const node of [alice, bob]) {
        const gossip = node.receive([secret], { via: 'gossip' })
        const synced = node.receive([secret], { via: 'sync' })
        assert.equal(gossip.duplicates + synced.duplicates, 2)
        assert.equal(node.get('secret'), undefined)
      }
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

    it('a value older than a delete this node collected is written again, unless a newer op of its key came first', () => {
      // carol writes while alice has never heard of her; alice then deletes and collects, alone
      const deleteAlone = (node: Replica, key: string): void => {
        put(node, key, null)
        attest(node)
        clock.advance(GRACE)
        assert.equal(node.collect().tombstones, 1)
      }
      const [alice, carol] = ['alice', 'carol'].map(id => replica(id)) as [Replica, Replica]
      put(carol, 'k', 'old')
      put(carol, 'j', 'old')
      clock.advance(1)
      deleteAlone(alice, 'k')
      assert.deepEqual(alice.rewrites(), [], 'nothing named yet')
      // by gossip, carol's older ops wait for a sync; by sync, they are taken, and alice cannot tell whether her collected delete was of k
      assert.equal(alice.receive(carol.store.opsOf('carol', 0, 10), { via: 'gossip' }).deferred, 2)
      assert.equal(alice.receive(carol.store.opsOf('carol', 0, 10), { via: 'sync' }).changed.length, 2)
      const again = alice.rewrites()
      assert.deepEqual(again.map(c => [c.key, text(c.value)]).sort(), [['j', 'old'], ['k', 'old']], 'each written again, so it means the same on every node')
      assert.deepEqual(alice.rewrites(), [], 'handed out once')
      // a crash before those writes: the names were stored with the ops, so the node writes them after restarting
      const restart = (node: Replica): Replica => {
        let store: Store = node.store
        if (store instanceof SqliteStore) {
          store.close()
          store = SqliteStore.open(store.path, { durability: 'normal' })
        }
        return replica(node.nodeId, { store })
      }
      const back = restart(alice)
      const after = back.rewrites()
      assert.deepEqual(after.map(c => [c.key, text(c.value)]).sort(), [['j', 'old'], ['k', 'old']], 'named again after a restart')
      assert.deepEqual(back.rewrites(), [], 'not again while their write may be on its way')
      clock.advance(REHAND_MS)
      assert.equal(back.rewrites().length, 2, 'again once that write is overdue')
      back.write(after)
      clock.advance(REHAND_MS)
      assert.deepEqual(back.rewrites(), [], 'written: no longer due')
      assert.deepEqual(restart(back).rewrites(), [], 'and no longer named on disk')
      // named again by a second node; carol's newer write of k arrives before alice writes it: only j is still due
      const dave = replica('dave')
      deleteAlone(dave, 'x')
      dave.receive(carol.store.opsOf('carol', 0, 10), { via: 'sync' })
      put(carol, 'k', 'new')
      dave.receive(carol.store.opsOf('carol', 2, 10), { via: 'sync' })
      assert.deepEqual(dave.rewrites().map(c => c.key), ['j'])
    })

    it('an older op whose delete this node collected comes with the delete as its witness: it stays deleted', () => {
      const [alice, bob, carol] = ['alice', 'bob', 'carol'].map(id => replica(id)) as [Replica, Replica, Replica]
      put(carol, 'k', 'old') // carol is not heard of yet
      clock.advance(1)
      put(alice, 'k', 'v')
      mesh([alice, bob])
      put(alice, 'k', null)
      mesh([alice, bob])
      clock.advance(GRACE)
      assert.equal(alice.collect().tombstones, 1, 'alice collects the delete; bob has not yet')
      // bob takes carol's older write: it loses to the delete bob still holds
      pull(bob, carol)
      assert.equal(bob.get('k')?.value, null)
      // alice, pulling from bob, gets carol's op with the delete as its witness (it is older than her horizon)
      pull(alice, bob)
      assert.equal(alice.get('k'), undefined, 'k stays deleted on alice')
      assert.equal(alice.vector().carol, carol.vector().carol, 'and she holds carol\'s op')
      assert.deepEqual(alice.rewrites(), [], 'nothing to write again')
    })
  })
}
