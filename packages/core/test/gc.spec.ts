/**
 * Tombstone collection and snapshot resync, on both stores.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { op, storeFactory, tempDir, type StoreKind } from './helpers.js'
import type { Store } from '../src/index.js'

const dir = tempDir()

/** Every op a store holds, as `key=value@origin:seq`, sorted. */
function rows (store: Store, keys: string[]): string[] {
  return keys.map(key => store.get(key)).filter(o => o != null)
    .map(o => `${o.key}=${o.value == null ? '∅' : Buffer.from(o.value).toString()}@${o.origin}:${o.seq}`)
}

for (const kind of ['memory', 'sqlite'] as StoreKind[]) {
  const open = storeFactory(kind, dir)
  const keys = ['a', 'b', 'c', 'd']

  describe(`tombstone GC (${kind})`, () => {
    it('removes old tombstones every peer has seen, and only those', () => {
      const store = open()
      store.apply([
        op('a', null, { origin: 'x', seq: 1, wall: 100 }),
        op('b', null, { origin: 'x', seq: 2, wall: 100 }),
        op('c', null, { origin: 'x', seq: 3, wall: 900 }),
        op('d', 'live', { origin: 'x', seq: 4, wall: 100 })
      ])
      // peers hold x up to seq 1 only; c is too young
      assert.equal(store.collectTombstones({ stable: { x: 1 }, stableBefore: 500, anyBefore: 0 }), 1)
      assert.deepEqual(rows(store, keys), ['b=∅@x:2', 'c=∅@x:3', 'd=live@x:4'])
      assert.deepEqual(store.gcVector(), { x: 1 })
      assert.equal(store.collectTombstones({ stable: { x: 9 }, stableBefore: 500, anyBefore: 0 }), 1)
      assert.deepEqual(rows(store, keys), ['c=∅@x:3', 'd=live@x:4'], 'live values are never collected')
      assert.deepEqual(store.gcVector(), { x: 2 })
      assert.deepEqual(store.counts(), { keys: 1, tombstones: 1 })
    })

    it('removes any tombstone past the maximum retention, seen by every peer or not', () => {
      const store = open()
      store.apply([op('a', null, { origin: 'x', seq: 1, wall: 100 }), op('b', null, { origin: 'y', seq: 1, wall: 300 })])
      assert.equal(store.collectTombstones({ stable: {}, stableBefore: 1000, anyBefore: 200 }), 1)
      assert.deepEqual(rows(store, keys), ['b=∅@y:1'])
      assert.deepEqual(store.gcVector(), { x: 1 })
    })

    it('a stale replica resyncs from a snapshot without resurrecting keys, keeping its unseen writes', () => {
      const fresh = open()
      const stale = open()
      const shared = [op('a', 'v1', { origin: 'x', seq: 1, wall: 10 }), op('b', 'v1', { origin: 'x', seq: 2, wall: 10 })]
      fresh.apply(shared)
      stale.apply(shared)
      // while `stale` is away: x deletes a, and the tombstone is collected
      fresh.apply([op('a', null, { origin: 'x', seq: 3, wall: 20 })])
      fresh.collectTombstones({ stable: { x: 3 }, stableBefore: 100, anyBefore: 0 })
      // meanwhile `stale` writes c on its own
      stale.apply([op('c', 'offline', { origin: 's', seq: 1, wall: 15 })])
      assert.ok((stale.vector().x ?? 0) < (fresh.gcVector().x ?? 0), 'the stale replica is behind the GC vector')

      const snapshot = fresh.missing({}, { limit: 1000 }).ops
      stale.apply(snapshot)
      const removed = stale.pruneAbsent(new Set(snapshot.map(o => o.key)), fresh.vector())
      stale.mergeVector(fresh.vector())
      stale.mergeGcVector(fresh.gcVector())
      assert.deepEqual(removed.map(o => o.key), ['a'])
      assert.deepEqual(rows(stale, keys), ['b=v1@x:2', 'c=offline@s:1'])
      assert.deepEqual(stale.gcVector(), { x: 3 })
    })
  })
}
