/**
 * The ops that wait for a gap or the clock (replica/pending.ts), within their
 * byte budget: over it, the furthest ahead of the largest origin go first.
 * That op was found with `Math.max(...seqs)`, one argument a seq: a member
 * whose small ops filled the 64 MiB budget (~400,000 of them) took it past
 * V8's stack, and every op that had to evict failed to wait, with a pass over
 * them all for each op evicted. And a waiting op holds its whole proof (up to
 * 1,024 digests): each proof is charged once, while any op that holds it
 * waits.
 *
 * None of it takes a pass over every origin that waits: the largest origin
 * and the origins the clock lets go are kept in heaps, so a member that sends
 * each op as an origin of its own (300,000 fit the budget) does not make each
 * eviction, or each second, cost a pass over them all.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { OriginWaits } from '../src/replica/origin-waits.js'
import { PendingOps, proofBytesOf, sizeOf } from '../src/replica/pending.js'
import type { Op, OpProof } from '../src/types.js'

const op = (origin: string, seq: number, value = 'v'): Op => ({ key: 'k', value: Buffer.from(value), wall: 1, logical: 0, origin, seq })
const digest = (seq: number): Uint8Array => Uint8Array.from([seq & 0xff, (seq >> 8) & 0xff, (seq >> 16) & 0xff, 1])

describe('ops waiting within a budget', () => {
  it('evict the furthest ahead of the largest origin, however many small ops fill it', () => {
    const budget = 64 * 1024 * 1024
    const pending = new PendingOps(budget)
    const small = sizeOf(op('mallory', 2))
    const fits = Math.floor(budget / small)
    // seqs from 2 (1 never comes), in shuffled blocks: the heap sees them out of order
    for (let block = 0; block < fits; block += 1000) {
      const seqs = Array.from({ length: Math.min(1000, fits - block) }, (_, i) => block + i + 2).reverse()
      for (const seq of seqs) assert.ok(pending.add(op('mallory', seq), digest(seq)))
    }
    assert.equal(pending.size, fits)
    assert.ok(fits > 300_000, `${fits} small ops fill the budget`)
    // an honest op of 1 MiB must evict ~6,400 of them: mallory's furthest
    const big = op('alice', 5, 'x'.repeat(1024 * 1024))
    assert.ok(pending.add(big, digest(5)))
    const highest = (): number => { let max = 0; for (const seq of pending.seqs('mallory')) max = Math.max(max, seq); return max }
    const left = pending.size - 1
    const evicted = fits - left
    assert.ok(evicted >= Math.ceil(sizeOf(big) / small) - 1, `${evicted} evicted`)
    // seqs 2 to fits + 1 waited: those left are the lowest
    assert.equal(highest(), fits + 1 - evicted)
    assert.deepEqual(pending.at('alice', 5).map(o => o.seq), [5])
    assert.ok(pending.bytes <= budget)
    // removed seqs (ops that applied) are never picked, and the furthest left go next
    const top = fits + 1 - evicted
    for (let seq = top; seq > top - 50_000; seq--) pending.remove('mallory', seq)
    assert.equal(highest(), top - 50_000)
    const before = pending.size
    assert.ok(pending.add(op('alice', 6, 'y'.repeat(1024 * 1024)), digest(6)))
    assert.equal(highest(), top - 50_000 - (before + 1 - pending.size))
  })

  it('keep an origin whose last op an eviction took', () => {
    const pending = new PendingOps(3 * sizeOf(op('a', 1)))
    assert.ok(pending.add(op('a', 9), digest(9)))
    assert.ok(pending.add(op('a', 8), digest(8)))
    assert.ok(pending.add(op('a', 7), digest(7)))
    // a's 9 and 8 go for its 3 (its own place is not passed)
    assert.ok(pending.add(op('a', 3), digest(3)))
    assert.deepEqual([...pending.seqs('a')].sort((x, y) => x - y), [3, 7, 8])
    assert.deepEqual(pending.at('a', 3).map(o => o.seq), [3])
  })

  it('charge each proof once, for as long as an op that holds it waits: one op a proof of 1,024 digests fills the budget at 32 KiB an op', () => {
    const budget = 4 * 1024 * 1024
    const pending = new PendingOps(budget)
    const fat = (seq: number): OpProof => ({ sig: new Uint8Array(64), first: seq, digests: new Uint8Array(1024 * 32) })
    // a member's small ops, each in a proof of its own that claims 1,023 more: each pins 32 KiB
    let taken = 0
    for (let seq = 2; seq < 2 + 1000; seq++) if (pending.add({ ...op('mallory', seq), proof: fat(seq) }, digest(seq))) taken++
    assert.ok(pending.bytes <= budget, `${pending.bytes} bytes waiting`)
    const each = sizeOf(op('mallory', 2)) + 1024 * 32
    assert.equal(pending.size, Math.floor(budget / each), `${pending.size} of ${taken} taken still wait: as many as fit at ${each} bytes an op`)
    // the ops of one honest batch share their proof: charged once
    const shared: OpProof = { sig: new Uint8Array(64), first: 1, digests: new Uint8Array(256 * 32) }
    const honest = new PendingOps(budget)
    for (let seq = 2; seq <= 256; seq++) assert.ok(honest.add({ ...op('alice', seq), proof: shared }, digest(seq)))
    assert.equal(honest.bytes, 255 * sizeOf(op('alice', 2)) + proofBytesOf(shared))
    // the proof stays charged while any of its ops waits, and goes with the last
    for (let seq = 2; seq < 256; seq++) honest.remove('alice', seq)
    assert.equal(honest.bytes, sizeOf(op('alice', 2)) + proofBytesOf(shared))
    honest.dropUpTo('alice', 256)
    assert.equal(honest.bytes, 0)
    assert.equal(honest.size, 0)
    // evicted ops give their proofs back: a budget full of fat proofs takes a large honest op, and adds up
    assert.ok(pending.add(op('alice', 5, 'x'.repeat(1024 * 1024)), digest(5)))
    assert.ok(pending.bytes <= budget)
    let counted = 0
    for (const seq of pending.seqs('mallory')) counted += sizeOf(op('mallory', seq)) + 1024 * 32
    assert.equal(pending.bytes, counted + sizeOf(op('alice', 5, 'x'.repeat(1024 * 1024))))
  })

  it('evict as a pass over every origin would: of the origins not known if any, the largest, of those as large the one waiting longest (any adds and removes)', () => {
    // origins this node holds ops of ('a' and 'b', and 'c' from the 150th step on: its first op applied meanwhile)
    let steps = 0
    const known = (origin: string): boolean => origin === 'a' || origin === 'b' || (origin === 'c' && steps >= 150)
    // the pass the heap stands in for: the first origin (in the order they began to wait) with the most bytes, of those not known if any
    const reference = (pending: PendingOps): string | undefined => {
      let largest: string | undefined
      let most = -1
      for (const unknown of [true, false]) {
        for (const origin of pending.origins()) {
          if (known(origin) === unknown) continue
          let bytes = 0
          for (const seq of pending.seqs(origin)) for (const waiting of pending.at(origin, seq)) bytes += sizeOf(waiting)
          if (bytes > most) [largest, most] = [origin, bytes]
        }
        if (largest !== undefined) return largest
      }
      return largest
    }
    const furthest = (pending: PendingOps, origin: string): number => Math.max(...pending.seqs(origin))
    const step = fc.oneof(
      fc.record({ add: fc.constantFrom('a', 'b', 'c', 'd', 'e'), seq: fc.integer({ min: 2, max: 40 }), size: fc.constantFrom(0, 50, 200) }),
      fc.record({ remove: fc.constantFrom('a', 'b', 'c', 'd', 'e'), seq: fc.integer({ min: 2, max: 40 }) }),
      fc.record({ drop: fc.constantFrom('a', 'b', 'c', 'd', 'e'), seq: fc.integer({ min: 2, max: 40 }) })
    )
    fc.assert(fc.property(fc.array(step, { minLength: 100, maxLength: 300 }), plan => {
      const pending = new PendingOps(3_000, known)
      let made = 0
      steps = 0
      for (const s of plan) {
        steps++
        if ('remove' in s) pending.remove(s.remove, s.seq)
        else if ('drop' in s) pending.dropUpTo(s.drop, s.seq)
        else {
          const next = op(s.add, s.seq, 'x'.repeat(s.size))
          // what the pass would evict first, when this op must evict (unless that is the op's own place or ahead of it)
          const victim = pending.bytes + sizeOf(next) > 3_000 ? reference(pending) : undefined
          const place = victim === undefined ? undefined : { origin: victim, seq: furthest(pending, victim) }
          const there = place === undefined ? [] : pending.at(place.origin, place.seq)
          // a digest of its own: a second version of its seq, never one already here
          pending.add(next, digest(made++))
          assert.ok(pending.bytes <= 3_000)
          if (place === undefined || (place.origin === s.add && place.seq <= s.seq)) continue
          const left = pending.at(place.origin, place.seq)
          assert.ok(there.every(gone => !left.includes(gone)), `${place.origin}:${place.seq} was the first to go`)
        }
      }
    }), { numRuns: 300 })
  })

  it('hand back an origin once the clock reaches the earliest time it was woken for, or at once when asked, each once and in the order they began to wait', () => {
    const pending = new PendingOps(1024 * 1024)
    assert.ok(pending.add(op('late', 2), digest(2), { wakeAt: 5_000 }))
    assert.ok(pending.add(op('late', 3), digest(3), { wakeAt: 2_000 }))
    assert.ok(pending.add(op('gap', 2), digest(2)))
    assert.ok(pending.add(op('soon', 2), digest(2), { wakeAt: 1_000 }))
    pending.wake('nobody')
    assert.deepEqual(pending.due(999), [])
    assert.deepEqual(pending.due(2_000), ['late', 'soon'], 'the earliest time counts; the order they began to wait')
    assert.deepEqual(pending.due(10_000), [], 'each once: not again unless woken')
    pending.wake('gap')
    pending.wake('late', 20_000)
    assert.deepEqual(pending.due(10_000), ['gap'])
    pending.remove('late', 2)
    pending.remove('late', 3)
    assert.deepEqual(pending.due(30_000), [], 'an origin with nothing left waiting')
    // woken again and again, the heap stays within twice the origins woken
    for (let i = 0; i < 10_000; i++) pending.wake('gap', 1_000_000 - i)
    assert.deepEqual(pending.due(Infinity), ['gap'])
  })

  it('find an origin\'s waiting seqs in a range as a pass would, and look at none of them when none is that low', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 400 }), { maxLength: 120 }), fc.array(fc.integer({ min: 1, max: 400 })), fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 400 }),
      (seqs, removed, after, upTo) => {
        const waits = new OriginWaits('a', 0)
        for (const seq of seqs) waits.set(seq, [{ op: op('a', seq), digest: digest(seq), bytes: 1 }])
        for (const seq of removed) waits.seqs.delete(seq)
        const expected = [...waits.seqs.keys()].filter(seq => seq > after && seq <= upTo).sort((x, y) => x - y)
        assert.deepEqual(waits.seqsIn(after, upTo).sort((x, y) => x - y), expected)
      }), { numRuns: 300 })
    // 100,000 seqs past a gap, none at or below what the node holds: a receive of the origin looks at none of them
    const waits = new OriginWaits('a', 0)
    for (let seq = 2; seq < 100_002; seq++) waits.set(seq, [{ op: op('a', seq), digest: digest(seq), bytes: 1 }])
    let looked = 0
    const { has, keys } = waits.seqs
    waits.seqs.has = seq => { looked++; return has.call(waits.seqs, seq) }
    waits.seqs.keys = () => { looked += waits.seqs.size; return keys.call(waits.seqs) }
    assert.deepEqual(waits.seqsIn(0, 1), [])
    assert.ok(looked <= 2, `${looked} looks`)
  })

  it('name an origin\'s runs of waiting seqs as a sort of them would, after any adds, removes and evictions, sorting them again only once they change', () => {
    const fresh = (pending: PendingOps, origin: string, limit: number): Array<[number, number]> => {
      const runs: Array<[number, number]> = []
      for (const seq of [...pending.seqs(origin)].sort((x, y) => x - y)) {
        const last = runs.at(-1)
        if (last !== undefined && last[1] === seq - 1) last[1] = seq
        else runs.push([seq, seq])
      }
      return runs.slice(0, limit)
    }
    const step = fc.oneof(
      fc.record({ add: fc.constantFrom('a', 'b'), seq: fc.integer({ min: 2, max: 60 }) }),
      fc.record({ remove: fc.constantFrom('a', 'b'), seq: fc.integer({ min: 2, max: 60 }) }),
      fc.record({ drop: fc.constantFrom('a', 'b'), seq: fc.integer({ min: 2, max: 60 }) }),
      fc.record({ ranges: fc.constantFrom('a', 'b'), limit: fc.constantFrom(1, 3, 1_024) })
    )
    fc.assert(fc.property(fc.array(step, { minLength: 50, maxLength: 300 }), plan => {
      // a budget of ~40 small ops: adds evict too
      const pending = new PendingOps(40 * sizeOf(op('a', 2)))
      let made = 0
      for (const s of plan) {
        if ('add' in s) pending.add(op(s.add, s.seq), digest(made++))
        else if ('remove' in s) pending.remove(s.remove, s.seq)
        else if ('drop' in s) pending.dropUpTo(s.drop, s.seq)
        else {
          const named = pending.ranges(s.ranges, s.limit)
          assert.deepEqual(named, fresh(pending, s.ranges, s.limit))
          // the pairs are the caller's: changing them changes nothing kept
          for (const run of named) run[1] = -1
          assert.deepEqual(pending.ranges(s.ranges, s.limit), fresh(pending, s.ranges, s.limit))
        }
      }
    }), { numRuns: 300 })
    // 200,000 of one origin's seqs in one run: a second hello with nothing changed sorts nothing
    const pending = new PendingOps(1 << 30)
    for (let seq = 2; seq < 200_002; seq++) pending.add(op('a', seq), digest(seq))
    const sort = Array.prototype.sort
    let sorted = 0
    Array.prototype.sort = function (this: unknown[], compare) { sorted += this.length; return sort.call(this, compare) } as typeof sort
    try {
      assert.deepEqual(pending.ranges('a', 1_024), [[2, 200_001]])
      assert.equal(sorted, 200_000)
      assert.deepEqual(pending.ranges('a', 1_024), [[2, 200_001]])
      assert.equal(sorted, 200_000, 'sorted once')
      pending.add(op('a', 200_005), digest(200_005))
      assert.deepEqual(pending.ranges('a', 1_024), [[2, 200_001], [200_005, 200_005]])
      assert.equal(sorted, 400_001, 'sorted again once a seq came')
    } finally {
      Array.prototype.sort = sort
    }
  })

  it('tell the earliest time the clock lets one of an origin\'s ops go, past those it has reached and those gone', () => {
    const waits = new OriginWaits('a', 0)
    const timed = (seq: number, wakeAt: number): { op: ReturnType<typeof op>, digest: Uint8Array, bytes: number, wakeAt: number } => ({ op: op('a', seq), digest: digest(seq), bytes: 1, wakeAt })
    const [early, late] = [timed(3, 1_000), timed(4, 5_000)]
    waits.set(2, [{ op: op('a', 2), digest: digest(2), bytes: 1 }])
    waits.set(3, [early])
    waits.set(4, [late])
    assert.equal(waits.nextWake(0), 1_000)
    assert.equal(waits.nextWake(1_000), 5_000)
    waits.forget(late)
    waits.seqs.delete(4)
    // a time of an op gone may still be told (a look that finds nothing); none once the clock passes it
    assert.equal(waits.nextWake(5_000), undefined)
  })
})
