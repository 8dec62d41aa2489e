import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { ChangeOrder } from '../src/change-order.js'

describe('change order', () => {
  it('holds a peer\'s change behind an own change committed before it until that one is told', () => {
    const order = new ChangeOrder()
    const told: number[] = []
    order.committed([1, 2])
    order.peer(3, () => told.push(3))
    order.peer(0, () => told.push(0))
    assert.deepEqual(told, [0])
    order.own(1, () => told.push(1))
    assert.deepEqual(told, [0, 1])
    order.own(2, () => told.push(2))
    assert.deepEqual(told, [0, 1, 2, 3])
    assert.equal(order.waiting, 0)
  })

  it('an own change that is never told (its fsync failed) releases what waited for it', () => {
    const order = new ChangeOrder()
    const told: number[] = []
    order.committed([5])
    order.peer(6, () => told.push(6))
    order.own(5)
    assert.deepEqual(told, [6])
  })

  it('tells every change once, in cursor order, whatever the interleaving of commits and fsyncs', () => {
    // each step: a peer's change committed now, an own batch committed now, or the oldest own batch made durable
    fc.assert(fc.property(fc.array(fc.constantFrom('peer', 'own', 'durable'), { maxLength: 60 }), fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 60 }), (steps, sizes) => {
      const order = new ChangeOrder()
      const told: number[] = []
      const batches: number[][] = []
      let next = 1
      steps.forEach((step, i) => {
        if (step === 'peer') {
          const cursor = next++
          order.peer(cursor, () => told.push(cursor))
        } else if (step === 'own') {
          const batch = Array.from({ length: sizes[i] ?? 1 }, () => next++)
          order.committed(batch)
          batches.push(batch)
        } else {
          for (const cursor of batches.shift() ?? []) order.own(cursor, () => told.push(cursor))
        }
      })
      for (const batch of batches) for (const cursor of batch) order.own(cursor, () => told.push(cursor))
      assert.deepEqual(told, Array.from({ length: next - 1 }, (_, i) => i + 1))
    }), { numRuns: 500 })
  })
})
