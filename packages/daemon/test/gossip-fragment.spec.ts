/**
 * An RPC whose messages are over the budget goes as several, each under it
 * unless one message alone is over it; the order of messages is kept. (The
 * whole path, a restarted node's IWANT answered without losing the stream,
 * is in catch-up.spec.ts.)
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fragment } from '../src/gossip-fragment.js'

const message = (n: number, bytes: number): { data: Uint8Array, topic: string, n: number } => ({ data: new Uint8Array(bytes), topic: 't', n })

describe('gossip RPC fragments', () => {
  it('splits messages into runs under the budget, in order', () => {
    const messages = Array.from({ length: 10 }, (_, i) => message(i, 300))
    const runs = fragment(messages, 1000)
    assert.deepEqual(runs.map(run => run.map(m => m.n)), [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]])
  })

  it('keeps what fits in one run as one', () => {
    assert.equal(fragment([message(0, 100), message(1, 100)], 1000).length, 1)
  })

  it('sends a message over the budget alone', () => {
    const runs = fragment([message(0, 100), message(1, 5000), message(2, 100)], 1000)
    assert.deepEqual(runs.map(run => run.map(m => m.n)), [[0], [1], [2]])
  })
})
