/**
 * Property tests for the merge rules: replicas that see the same ops, in any
 * order, batching and duplication, and by gossip or by pull sync, end in the
 * same state, on either store.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { Replica, type MissingCursor, type Op, type Store } from '../src/index.js'
import { op, stateOf, storeFactory, tempDir } from './helpers.js'

const dir = tempDir()
const openMemory = storeFactory('memory', dir)
const openSqlite = storeFactory('sqlite', dir)
const RUNS = 200

// Few keys, origins, walls and counters, so conflicts and equal stamps are common.
const KEYS = ['a', 'b', 'c', '\u{E000}', '\u{1F600}']
const ORIGINS = ['peer-a', 'peer-b', 'peer-c', 'peer-d']

/** Ops with seqs 1, 2, 3… per origin, as real origins issue them. */
const opsArb: fc.Arbitrary<Op[]> = fc.array(fc.record({
  key: fc.constantFrom(...KEYS),
  value: fc.option(fc.constantFrom('', 'x', 'y', 'zz'), { nil: null, freq: 4 }),
  wall: fc.integer({ min: 0, max: 3 }),
  logical: fc.integer({ min: 0, max: 2 }),
  origin: fc.constantFrom(...ORIGINS)
}), { maxLength: 25 }).map(drafts => {
  const seqs = new Map<string, number>()
  return drafts.map(({ key, value, ...version }) => {
    const seq = (seqs.get(version.origin) ?? 0) + 1
    seqs.set(version.origin, seq)
    return op(key, value, { ...version, seq })
  })
})

/** One op set cut into `count` disjoint parts: two parts never hold different ops with the same (origin, seq). */
function partsArb (count: number): fc.Arbitrary<Op[][]> {
  return opsArb.chain(ops => fc.array(fc.nat(count - 1), { minLength: ops.length, maxLength: ops.length }).map(owners =>
    Array.from({ length: count }, (_, part) => ops.filter((_, i) => owners[i] === part))))
}

/** How one replica receives `ops`: shuffled, some repeated, split into batches of 1–6. */
function deliveryOf (ops: Op[]): fc.Arbitrary<Op[][]> {
  return fc.tuple(
    fc.shuffledSubarray(ops, { minLength: ops.length, maxLength: ops.length }),
    fc.array(fc.tuple(fc.nat(99), fc.nat(99)), { maxLength: 8 }),
    fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 })
  ).map(([shuffled, repeats, sizes]) => {
    // A copy: fast-check reuses generated values while shrinking, so they must not be changed.
    const order = [...shuffled]
    for (const [which, where] of repeats) {
      const repeated = ops[which % Math.max(ops.length, 1)]
      if (repeated !== undefined) order.splice(where % (order.length + 1), 0, repeated)
    }
    const batches: Op[][] = []
    for (let start = 0, i = 0; start < order.length; i++) {
      const size = sizes[i % sizes.length] ?? 1
      batches.push(order.slice(start, start + size))
      start += size
    }
    return batches
  })
}

function applied (store: Store, ...batches: Op[][]): Store {
  for (const batch of batches) store.apply(batch)
  return store
}

/** Runs `check` with a fresh store of each kind, closing them afterwards. */
function withStores (check: (memory: Store, sqlite: Store) => void): void {
  const memory = openMemory()
  const sqlite = openSqlite()
  try {
    check(memory, sqlite)
  } finally {
    sqlite.close()
  }
}

const state = (store: Store): object => stateOf(store, KEYS)

describe('merge', () => {
  it('converges: replicas that receive the same ops in any order, batching and repetition agree, on both stores', () => {
    const scenario = opsArb.chain(ops => fc.tuple(fc.constant(ops), deliveryOf(ops), deliveryOf(ops), deliveryOf(ops), deliveryOf(ops)))
    fc.assert(fc.property(scenario, ([ops, first, second, ...others]) => {
      const reference = state(applied(openMemory(), ops))
      withStores((memory, sqlite) => {
        assert.deepEqual(state(applied(memory, ...first)), reference)
        assert.deepEqual(state(applied(sqlite, ...second)), reference)
      })
      for (const delivery of others) assert.deepEqual(state(applied(openMemory(), ...delivery)), reference)
    }), { numRuns: RUNS })
  })

  it('is commutative: A then B equals B then A', () => {
    fc.assert(fc.property(partsArb(2), ([a = [], b = []]) => {
      withStores((memory, sqlite) => {
        assert.deepEqual(state(applied(memory, a, b)), state(applied(sqlite, b, a)))
      })
    }), { numRuns: RUNS })
  })

  it('is associative: (A then B) then C equals A then (B and C in one batch)', () => {
    fc.assert(fc.property(partsArb(3), ([a = [], b = [], c = []]) => {
      withStores((memory, sqlite) => {
        assert.deepEqual(state(applied(memory, [...a, ...b], c)), state(applied(sqlite, a, [...b, ...c])))
      })
    }), { numRuns: RUNS })
  })

  it('is idempotent: applying a batch again changes nothing and reports nothing', () => {
    fc.assert(fc.property(partsArb(2), ([before = [], batch = []]) => {
      withStores((memory, sqlite) => {
        for (const store of [memory, sqlite]) {
          applied(store, before, batch)
          const once = state(store)
          assert.deepEqual(store.apply(batch), [])
          assert.deepEqual(state(store), once)
        }
      })
    }), { numRuns: RUNS })
  })

  it('keeps the vector at the contiguous prefix until a gap fills', () => {
    for (const open of [openMemory, openSqlite]) {
      const store = open()
      // Two keys, so most of these ops are overwritten: the vector must count them all the same.
      const ops = (...seqs: number[]): Op[] => seqs.map(seq => op(`k${seq % 2}`, String(seq), { origin: 'peer-a', seq, wall: seq }))
      store.apply(ops(1, 3, 5))
      assert.deepEqual(store.vector(), { 'peer-a': 1 })
      store.apply(ops(4, 6))
      assert.deepEqual(store.vector(), { 'peer-a': 1 })
      store.apply(ops(2))
      assert.deepEqual(store.vector(), { 'peer-a': 6 })
      store.close()
    }
  })
})

/** One pull: `into` asks `from` for what its vector lacks, in small pages, then adopts `from`'s vector. */
function pull (into: Replica, from: Replica): void {
  const theirs = from.vector()
  const ours = into.vector()
  let cursor: MissingCursor | undefined
  for (let pages = 0; pages === 0 || cursor !== undefined; pages++) {
    assert.ok(pages <= 100, 'missing() keeps returning pages')
    const page = from.missing(ours, { limit: 3, cursor })
    into.merge(page.ops)
    cursor = page.next
  }
  into.mergeVector(theirs)
}

/**
 * Every replica pulls from every other, round after round, until a round
 * changes nothing. Several rounds may be needed: an overwritten op travels
 * only as a vector entry, so a seq a replica holds beyond a gap counts only
 * once another replica's vector has covered the gap.
 */
function syncUntilStable (replicas: Replica[], maxRounds: number): void {
  const states = (): object[] => replicas.map(replica => state(replica.store))
  for (let round = 0, before = states(); round < maxRounds; round++) {
    for (const into of replicas) for (const from of replicas) if (into !== from) pull(into, from)
    const after = states()
    if (JSON.stringify(after) === JSON.stringify(before)) return
    before = after
  }
  assert.fail(`replicas still changing after ${maxRounds} rounds`)
}

describe('pull sync', () => {
  it('brings replicas that each saw some of the ops to the state of one that saw them all', () => {
    // Each op reaches a non-empty subset of three replicas (a bit mask 1–7).
    const scenario = opsArb.chain(ops => fc.tuple(fc.constant(ops), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: ops.length, maxLength: ops.length })))
    fc.assert(fc.property(scenario, ([ops, masks]) => {
      const sqlite = openSqlite()
      const replicas = [openMemory(), sqlite, openMemory()].map((store, i) => new Replica({ store, nodeId: `node-${i}`, now: () => 0 }))
      replicas.forEach((replica, i) => replica.merge(ops.filter((_, j) => ((masks[j] ?? 0) >> i & 1) === 1)))
      syncUntilStable(replicas, ops.length + 2)
      const reference = state(applied(openMemory(), ops))
      for (const replica of replicas) assert.deepEqual(state(replica.store), reference)
      sqlite.close()
    }), { numRuns: RUNS })
  })
})
