/**
 * Collection: only what every member of the group holds (by signed
 * attestations, learnt through any peer), tombstones only after the grace
 * period, and nothing a replay or a hidden second version could bring back.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { REHAND_MS, SqliteStore, attestEvery, attestIntervalFor, attestMsPerOriginFor, attestationKey, decodeAttestation, encodeAttestation, proveOps, type Op, type Replica, type Store } from '../src/index.js'
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

    it('takes gossip stamped before the horizon only on an attestation that holds every floor, and looks at the floors once an attestation and a move, not once an op', () => {
      const RETENTION = 20_000
      const [alice, carol] = ['alice', 'carol'].map(id => replica(id, { retentionMs: RETENTION })) as [Replica, Replica]
      put(carol, 'c', '1')
      put(alice, 'k', 'v')
      put(alice, 'k', null)
      mesh([alice, carol], 2)
      clock.advance(GRACE)
      mesh([alice, carol], 2)
      assert.equal(alice.collect().tombstones, 1)
      const { horizon } = alice.state
      // mallory's attestations, and her ops, are stamped before the horizon: she attests first to none of alice's
      // ops, then to all; her ops come by gossip past a gap (seq 1 never comes), so none applies
      const signed = (one: Op): Op => { proveOps([one], keys.signer('mallory')); return one }
      const floors = Object.entries(alice.status().floors)
      const attestation = (seq: number, short: boolean): Op => signed({
        ...op(attestationKey('mallory'), null, { origin: 'mallory', seq, wall: horizon.wall - 100 + seq }),
        value: encodeAttestation(new Map(floors.map(([origin, at]) => [origin, { seq: origin === 'alice' && short ? at - 1 : at, wall: horizon.wall - 1_000, logical: 0, acc: new Uint8Array(32) }])))
      })
      const backdated = (seq: number): Op => signed(op(`m${seq}`, 'old', { origin: 'mallory', seq, wall: horizon.wall - 50 + seq }))
      const gossip = (seq: number): number => alice.receive([backdated(seq)], { via: 'gossip' }).deferred
      assert.equal(alice.receive([attestation(1, true)], { via: 'sync' }).applied, 1)
      assert.equal(gossip(5), 1, 'an attestation short of a floor: left for a sync')
      assert.equal(alice.receive([attestation(2, false)], { via: 'sync' }).applied, 1)
      const held = alice.state.attestations.get('mallory')
      assert.equal(held?.seq, 2)
      let looked = 0
      const get = held.marks.get.bind(held.marks)
      held.marks.get = origin => { looked++; return get(origin) }
      assert.equal(gossip(6), 0, 'one that holds every floor: taken on trust (and waits for seq 1)')
      const once = looked
      assert.ok(once > 0)
      for (let seq = 7; seq < 20; seq++) assert.equal(gossip(seq), 0)
      assert.equal(looked, once, 'the floors are not looked at again while they stay')
      // floors that move past her attestation (silent past the retention, she no longer holds them back): her next op
      // is left for a sync, though the attestation is the same
      put(alice, 'j', 'v')
      put(alice, 'j', null)
      mesh([alice, carol], 2)
      clock.advance(RETENTION + GRACE)
      mesh([alice, carol], 2)
      assert.equal(alice.collect().tombstones, 1)
      assert.equal(alice.state.attestations.get('mallory'), held)
      assert.equal(gossip(20), 1, 'floors past her attestation: left for a sync')
      assert.ok(looked > once, 'looked at again once they moved')
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
