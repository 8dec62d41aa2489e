/**
 * Property tests for convergence: replicas that receive the same ops in any
 * order, batching and duplication, by gossip or by pull sync, end with the
 * same rows and the same held prefixes, on either store; and replicas that
 * each saw part of the ops (an origin's two versions of one seq included)
 * converge by pulling from each other.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { Replica, type Op, type Store } from '../src/index.js'
import { attest, op, pull, rowsOf, storeFactory, tempDir } from './helpers.js'

const dir = tempDir()
const RUNS = 150

// Few keys and origins, so conflicts are common; stamps rise with each origin's seq, as an honest clock's do.
const KEYS = ['a', 'b', 'c', '\u{E000}', '\u{1F600}']
const ORIGINS = ['peerA', 'peerB', 'peerC']

const opsArb: fc.Arbitrary<Op[]> = fc.array(fc.record({
  key: fc.constantFrom(...KEYS),
  value: fc.option(fc.constantFrom('', 'x', 'y', 'zz'), { nil: null, freq: 4 }),
  step: fc.integer({ min: 0, max: 2 }),
  origin: fc.constantFrom(...ORIGINS)
}), { maxLength: 30 }).map(drafts => {
  const last = new Map<string, { seq: number, wall: number }>()
  return drafts.map(({ key, value, step, origin }) => {
    const previous = last.get(origin) ?? { seq: 0, wall: 1 }
    const next = { seq: previous.seq + 1, wall: previous.wall + step }
    last.set(origin, next)
    // equal walls get a rising logical counter, as an HLC gives them
    return op(key, value, { origin, seq: next.seq, wall: next.wall, logical: next.seq })
  })
})

/** How one replica receives `ops`: shuffled, some repeated, in batches of 1–6, each by gossip or sync. */
function deliveryOf (ops: Op[]): fc.Arbitrary<Array<{ ops: Op[], via: 'gossip' | 'sync' }>> {
  return fc.tuple(
    fc.shuffledSubarray(ops, { minLength: ops.length, maxLength: ops.length }),
    fc.array(fc.tuple(fc.nat(99), fc.nat(99)), { maxLength: 8 }),
    fc.array(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.boolean()), { minLength: 1, maxLength: 8 })
  ).map(([shuffled, repeats, sizes]) => {
    const order = [...shuffled]
    for (const [which, where] of repeats) {
      const repeated = ops[which % Math.max(ops.length, 1)]
      if (repeated !== undefined) order.splice(where % (order.length + 1), 0, repeated)
    }
    const batches: Array<{ ops: Op[], via: 'gossip' | 'sync' }> = []
    for (let start = 0, i = 0; start < order.length; i++) {
      const [size, gossip] = sizes[i % sizes.length] ?? [1, false]
      batches.push({ ops: order.slice(start, start + size), via: gossip ? 'gossip' : 'sync' })
      start += size
    }
    return batches
  })
}

for (const kind of ['memory', 'sqlite'] as const) {
  const open: () => Store = storeFactory(kind, dir)
  const node = (id: string): Replica => new Replica({ store: open(), nodeId: id, now: () => 1_000, attestIntervalMs: 0, attestMsPerOrigin: 0 })

  describe(`convergence (${kind})`, () => {
    it('any order, batching, repetition and channel gives the state of in-order delivery', () => {
      fc.assert(fc.property(opsArb.chain(ops => fc.tuple(fc.constant(ops), deliveryOf(ops), deliveryOf(ops))), ([ops, first, second]) => {
        const reference = node('ref')
        reference.receive(ops)
        for (const delivery of [first, second]) {
          const replica = node('r')
          for (const batch of delivery) replica.receive(batch.ops, { via: batch.via })
          assert.deepEqual(rowsOf(replica.store), rowsOf(reference.store))
          assert.deepEqual(replica.vector(), reference.vector())
          replica.store.close()
        }
        reference.store.close()
      }), { numRuns: RUNS })
    })

    it('replicas that each saw part of the ops, two versions of one seq included, converge by pulling', () => {
      const arb = opsArb.chain(ops => fc.tuple(
        fc.constant(ops),
        fc.array(fc.nat(2), { minLength: ops.length, maxLength: ops.length }),
        fc.option(fc.nat(99)),
        fc.array(fc.tuple(fc.nat(2), fc.nat(2)), { minLength: 1, maxLength: 12 })
      ))
      fc.assert(fc.property(arb, ([ops, owners, twinAt, pulls]) => {
        const replicas = ['n0', 'n1', 'n2'].map(node)
        ops.forEach((o, i) => { replicas[owners[i] as number]?.receive([o]) })
        const twinOf = twinAt === null ? undefined : ops[twinAt % Math.max(ops.length, 1)]
        if (twinOf !== undefined) {
          // the same origin and seq, another key: shown only to the replica that did not get the original
          const twin = { ...twinOf, key: `${twinOf.key}-twin` }
          replicas[((owners[ops.indexOf(twinOf)] as number) + 1) % 3]?.receive([twin])
        }
        for (const [puller, server] of pulls) if (puller !== server) pull(replicas[puller] as Replica, replicas[server] as Replica)
        // until nothing moves (ops that only wait at others need a few rounds); attestations, checked by
        // collection, show a second version, and the next pull from its holder brings it
        for (let round = 0, moved = true; moved || round < 2; round++) {
          assert.ok(round < 30, 'still moving after 30 rounds')
          moved = false
          for (const r of replicas) attest(r)
          for (const a of replicas) for (const b of replicas) if (a !== b) moved = pull(a, b).applied > 0 || moved
          for (const r of replicas) r.collect()
        }
        const [first, ...rest] = replicas as [Replica, Replica, Replica]
        for (const other of rest) {
          assert.deepEqual(rowsOf(other.store), rowsOf(first.store))
          assert.deepEqual(other.vector(), first.vector())
        }
        for (const r of replicas) r.store.close()
      }), { numRuns: Math.round(RUNS / 3) })
    })
  })
}
