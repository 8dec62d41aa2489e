/**
 * Cutting ops into frames and messages: every chunk encodes within its byte
 * budget, whatever mix of batches it holds; order is kept; a batch that fits
 * travels whole.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { chunkByBatch, chunkByBytes, encodeOps, proveOps, type Op } from '../src/index.js'
import { op } from './helpers.js'

const sign = (payload: Uint8Array): Uint8Array => createHash('sha512').update(payload).digest()

/** `batches` batches of `size` ops each, from `origins` origins, with `valueBytes`-byte values. */
function batches (count: number, size: number, valueBytes: number, origins = 1): Op[][] {
  return Array.from({ length: count }, (_, b) => {
    const origin = `12D3KooW-origin-${b % origins}`.padEnd(52, 'x')
    const ops = Array.from({ length: size }, (_, i) => op(`key:${b}:${i}`, 'v'.repeat(valueBytes), { origin, seq: Math.floor(b / origins) * size + i + 1, wall: 1000 + b * size + i }))
    proveOps(ops, sign)
    return ops
  })
}

function assertFits (chunks: Op[][], ops: Op[], maxBytes: number): void {
  assert.deepEqual(chunks.flat(), ops, 'every op, once, in order')
  for (const chunk of chunks) {
    assert.ok(chunk.length > 0, 'no empty chunk')
    const size = encodeOps(chunk).length
    assert.ok(size <= maxBytes || chunk.length === 1, `a chunk of ${chunk.length} ops encodes to ${size} bytes, over ${maxBytes}`)
  }
}

describe('chunking ops into frames', () => {
  it('one op from each of many full batches (a snapshot\'s rows in key order) fits the budget', () => {
    // each op drags its batch's other 255 digests along: counting keys and values only made this frame ~70× its budget
    const ops = batches(600, 256, 100).map(batch => batch[7] as Op)
    const maxBytes = 64 * 1024
    const chunks = chunkByBatch(ops, maxBytes)
    assertFits(chunks, ops, maxBytes)
    assert.ok(chunks.length > 1)
  })

  it('keeps a whole batch in one chunk when it fits, and cuts one that does not', () => {
    const ops = batches(6, 256, 300, 2).flat()
    const maxBytes = 128 * 1024
    const chunks = chunkByBatch(ops, maxBytes)
    assertFits(chunks, ops, maxBytes)
    for (const chunk of chunks) assert.equal(new Set(chunk.map(o => o.proof)).size, 1, 'one batch per chunk here: two do not fit')
    const small = chunkByBatch(ops, 16 * 1024)
    assertFits(small, ops, 16 * 1024)
    assert.ok(small.length > chunks.length)
  })

  it('any mix of batches, subsets and budgets encodes within the budget', () => {
    const pool = batches(8, 64, 50, 3)
    fc.assert(fc.property(
      fc.uniqueArray(fc.tuple(fc.nat(7), fc.nat(63)), { minLength: 1, maxLength: 200, selector: ([b, i]) => b * 64 + i }),
      fc.integer({ min: 4 * 1024, max: 64 * 1024 }),
      fc.boolean(),
      (picks, maxBytes, whole) => {
        const ops = picks.map(([b, i]) => (pool[b] as Op[])[i] as Op)
        assertFits((whole ? chunkByBatch : chunkByBytes)(ops, maxBytes), ops, maxBytes)
      }), { numRuns: 200 })
  })
})
