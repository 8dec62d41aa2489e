/**
 * Own ops on their way to gossip (outbound.ts): the first after a quiet
 * spell goes out on the next turn of the event loop, what follows within the
 * window goes out together once it has passed, in order, the window widens
 * while publishing is dear, and nothing is published after stop. The
 * real-binary side is in metrics.spec.ts.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { performance } from 'node:perf_hooks'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import type { Op } from '@murmur/core'
import { ENOUGH_OPS, Outbound, PUBLISH_SHARE, WIDEST } from '../src/outbound.js'
import { waitFor } from './harness.js'

const op = (seq: number): Op => ({ key: `k${seq}`, value: new Uint8Array([seq]), wall: 1, logical: seq, origin: 'me', seq })
const seqs = (ops: Op[]): number[] => ops.map(o => o.seq)

function recorder (windowMs = 200): { outbound: Outbound, sent: Array<{ at: number, seqs: number[] }> } {
  const sent: Array<{ at: number, seqs: number[] }> = []
  const outbound = new Outbound(async ops => {
    sent.push({ at: performance.now(), seqs: seqs(ops) })
    return [1]
  }, pino({ level: 'silent' }), windowMs)
  return { outbound, sent }
}

/** The harness's poll, every millisecond. */
const until = async (done: () => boolean, what: string): Promise<void> => { await waitFor(done, what, 5_000, 1) }

describe('outbound gossip', () => {
  it('publishes the first ops after a quiet spell on the next turn, without waiting for the window', async () => {
    const { outbound, sent } = recorder()
    outbound.push([op(1), op(2)])
    assert.equal(sent.length, 0, 'not inside the call that released them (after the acknowledgement)')
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(sent.map(s => s.seqs), [[1, 2]])
  })

  it('carries the ops released within the window in one message once it has passed, in order', async () => {
    const { outbound, sent } = recorder()
    outbound.push([op(1)])
    await until(() => sent.length === 1, 'the first message')
    outbound.push([op(2)])
    outbound.push([op(3), op(4)])
    outbound.push([op(5)])
    await until(() => sent.length === 2, 'the second message')
    assert.deepEqual(sent.map(s => s.seqs), [[1], [2, 3, 4, 5]])
    assert.ok((sent[1]?.at ?? 0) - (sent[0]?.at ?? 0) >= 150, `the second waited for the window (${((sent[1]?.at ?? 0) - (sent[0]?.at ?? 0)).toFixed(1)} ms)`)
    assert.deepEqual(outbound.sent, { messages: 2, ops: 5 })
    // a quiet spell longer than the window: the next goes out at once again
    await sleep(250)
    const before = performance.now()
    outbound.push([op(6)])
    await until(() => sent.length === 3, 'the third message')
    assert.ok((sent[2]?.at ?? 0) - before < 100, `published without waiting for a window (${((sent[2]?.at ?? 0) - before).toFixed(1)} ms)`)
  })

  it('sends ops that fill a message at once, window or not', async () => {
    const { outbound, sent } = recorder()
    outbound.push([op(1)])
    await until(() => sent.length === 1, 'the first message')
    const before = performance.now()
    outbound.push([op(2), op(3)])
    outbound.push(Array.from({ length: ENOUGH_OPS - 2 }, (_, i) => op(4 + i)))
    await until(() => sent.length === 2, 'the second message')
    assert.deepEqual(sent[1]?.seqs, Array.from({ length: ENOUGH_OPS }, (_, i) => 2 + i))
    assert.ok((sent[1]?.at ?? 0) - before < 100, `it did not wait for the 200 ms window (${((sent[1]?.at ?? 0) - before).toFixed(1)} ms)`)
    outbound.push([op(100)])
    await until(() => sent.length === 3, 'the third message')
    // the window runs from the flush, `at` from the publish after it: the two gaps differ by a few ms under load
    assert.ok((sent[2]?.at ?? 0) - (sent[1]?.at ?? 0) >= 150, 'one op after it waits for the window again')
  })

  it('with a 0 ms window publishes what each turn released on the next, however close together', async () => {
    const { outbound, sent } = recorder(0)
    for (let seq = 1; seq <= 3; seq++) {
      outbound.push([op(seq)])
      await until(() => sent.length === seq, `message ${seq}`)
    }
    outbound.push([op(4)])
    outbound.push([op(5)])
    await until(() => sent.length === 4, 'message 4')
    assert.deepEqual(sent.map(s => s.seqs), [[1], [2], [3], [4, 5]], 'ops released in one turn still share a message')
  })

  it('widens the window while publishing is dear, up to WIDEST times the window set, and narrows it again', async () => {
    let dearMs = 8
    const sent: number[] = []
    // a publish that holds the event loop the way sends to many peers on a busy machine do
    const outbound = new Outbound(async () => {
      const until = performance.now() + dearMs
      while (performance.now() < until) {}
      sent.push(performance.now())
      return [1]
    }, pino({ level: 'silent' }), 20)
    assert.equal(outbound.window, 20, 'nothing published yet: the window set')
    const writeFor = async (ms: number, everyMs = 10): Promise<void> => {
      // a writer of an op every 10 ms: faster than the window, too slow to fill a message (ENOUGH_OPS) within it
      for (let seq = 1, end = performance.now() + ms; performance.now() < end; seq++) {
        outbound.push([op(seq)])
        await sleep(everyMs)
      }
    }
    await writeFor(1_500)
    const widest = WIDEST * 20
    assert.ok(outbound.window > 20 * 3, `the window widened towards ${PUBLISH_SHARE} × 8 ms (${outbound.window.toFixed(1)} ms)`)
    assert.ok(outbound.window <= widest, `and no further than ${widest} ms (${outbound.window.toFixed(1)} ms)`)
    const gaps = sent.slice(-4).map((at, i, last) => at - (last[i - 1] ?? at)).slice(1)
    assert.ok(gaps.every(gap => gap >= 20 * 3), `publishes came that far apart, not every 20 + 8 ms (${gaps.map(g => g.toFixed(0)).join(', ')} ms)`)
    // a publish of 4 ms every 20 ms: too little to widen the window (a quarter), too much to narrow it (a tenth)
    dearMs = 4
    await writeFor(1_500, 20)
    assert.ok(outbound.window > 25, `still widened, to ${PUBLISH_SHARE} × 4 ms (${outbound.window.toFixed(1)} ms)`)
    dearMs = 0
    await writeFor(1_500)
    assert.ok(outbound.window < 21, `cheap publishes bring the window back to the one set (${outbound.window.toFixed(1)} ms)`)
    outbound.stop()
  })

  it('keeps the window set for a writer slow enough that a message per write is a small share of its time', async () => {
    let published = 0
    // as dear as above, but one op every 100 ms: a message per write (8 ms) is under a quarter of the time between writes
    const outbound = new Outbound(async () => {
      const until = performance.now() + 8
      while (performance.now() < until) {}
      published++
      return [1]
    }, pino({ level: 'silent' }), 20)
    for (let seq = 1; seq <= 12; seq++) {
      outbound.push([op(seq)])
      await sleep(100)
    }
    assert.equal(published, 12)
    assert.equal(outbound.window, 20)
    outbound.stop()
  })

  it('never widens a 0 ms window', async () => {
    const outbound = new Outbound(async () => {
      const until = performance.now() + 5
      while (performance.now() < until) {}
      return [1]
    }, pino({ level: 'silent' }), 0)
    for (let seq = 1; seq <= 20; seq++) {
      outbound.push([op(seq)])
      await sleep(1)
    }
    assert.equal(outbound.window, 0)
    outbound.stop()
  })

  it('refuses a window that is not a number of ms, 0 or more', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new Outbound(async () => [1], pino({ level: 'silent' }), bad), { name: 'RangeError', message: /^publishWindowMs must be a number of ms, 0 or more/ }, String(bad))
    }
  })

  it('publishes nothing that waited when it stops', async () => {
    const { outbound, sent } = recorder()
    outbound.push([op(1)])
    await until(() => sent.length === 1, 'the first message')
    outbound.push([op(2)])
    outbound.stop()
    await sleep(250)
    assert.deepEqual(sent.map(s => s.seqs), [[1]])
  })

  it('counts neither messages nor ops a stopped node could not publish', async () => {
    const outbound = new Outbound(async () => undefined, pino({ level: 'silent' }), 20)
    outbound.push([op(1)])
    await sleep(5)
    assert.deepEqual(outbound.sent, { messages: 0, ops: 0 })
  })
})
