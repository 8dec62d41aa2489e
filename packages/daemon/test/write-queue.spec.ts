/**
 * The write queue's ordering rules, in-process: batches are answered in
 * commit order whatever order their syncs finish in, a failed sync fails only
 * its own batch, and ops are handed on only once durable, in the same order.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { WriteQueue } from '../src/write-queue.js'
import type { Change, Op } from '@murmur/core'

const asOps = (changes: Change[]): Op[] => changes.map((change, i) => ({ key: change.key, value: change.value, wall: 1, logical: 0, origin: 'o', seq: i + 1 }))
const change = (key: string): Change => ({ key, value: Buffer.from(key) })
const nextTurn = async (): Promise<void> => { await new Promise(resolve => setImmediate(resolve)) }

describe('write queue', () => {
  it('answers batches in commit order even when a later sync finishes first, and hands their ops on in that order', async () => {
    const syncs: Array<{ resolve: () => void, reject: (err: Error) => void }> = []
    const events: string[] = []
    const queue = new WriteQueue(asOps, {
      durable: () => new Promise<void>((resolve, reject) => { syncs.push({ resolve, reject }) }),
      after: ops => { events.push(`after ${ops.map(op => op.key).join(',')}`) }
    })
    const first = queue.submit([change('a')]).then(() => { events.push('answered a') })
    await nextTurn() // first batch committed, its sync pending
    const second = queue.submit([change('b')]).then(() => { events.push('answered b') })
    const third = queue.submit([change('c')]).then(() => { events.push('answered c') }, (err: Error) => { events.push(`failed c: ${err.message}`) })
    await nextTurn()
    assert.equal(syncs.length, 2, 'a has one sync, b and c (one batch) another')
    syncs[1]?.resolve() // the later sync finishes first
    await nextTurn()
    assert.deepEqual(events, [], 'nothing answered before the first batch is durable')
    syncs[0]?.resolve()
    await Promise.all([first, second, third])
    // `after` runs as a batch's promises resolve; their callbacks run just after it
    assert.deepEqual(events, ['after a', 'answered a', 'after b,c', 'answered b', 'answered c'])
  })

  it('checks each precondition at the commit, with the keys written before it in the batch, and refuses that submission alone', async () => {
    const committed: string[][] = []
    const queue = new WriteQueue(changes => { committed.push(changes.map(c => c.key)); return asOps(changes) })
    const seen: string[][] = []
    const check = (refuse: string) => (touched: ReadonlySet<string>): Error | undefined => {
      seen.push([...touched])
      return touched.has(refuse) ? new Error(`${refuse} was written`) : undefined
    }
    const results = await Promise.allSettled([
      queue.submit([change('a'), change('b')]),
      queue.submit([change('c')], check('a')),
      queue.submit([change('d')], check('x')),
      queue.submit([change('e')])
    ])
    assert.deepEqual(results.map(r => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
    assert.match(String((results[1] as PromiseRejectedResult).reason), /a was written/)
    assert.deepEqual(seen, [['a', 'b'], ['a', 'b']], 'a refused submission adds nothing to what later ones see')
    assert.deepEqual(committed, [['a', 'b', 'd', 'e']], 'one transaction for the rest')
    const thrown = queue.submit([change('f')], () => { throw new Error('not running') })
    await assert.rejects(thrown, /not running/)
  })

  it('a failed sync fails its own writers only', async () => {
    let calls = 0
    const queue = new WriteQueue(asOps, { durable: async () => { if (++calls === 1) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }) } })
    await assert.rejects(queue.submit([change('a')]), /EIO/)
    assert.deepEqual((await queue.submit([change('b')])).map(op => op.key), ['b'])
  })

  it('a sync that fails at once (a lone writer\'s fsync on this thread) reports its committed ops lost, as a later failure does', async () => {
    const lost: string[][] = []
    const after: string[][] = []
    let calls = 0
    const queue = new WriteQueue(asOps, {
      durable: () => { if (++calls === 1) throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }); return undefined },
      after: ops => { after.push(ops.map(op => op.key)) },
      lost: ops => { lost.push(ops.map(op => op.key)) }
    })
    await assert.rejects(queue.submit([change('a')]), /EIO/)
    // without it, the node's change order waits for 'a' for good, and holds every peer's change from then on
    assert.deepEqual(lost, [['a']], 'the committed ops are reported lost')
    assert.deepEqual((await queue.submit([change('b')])).map(op => op.key), ['b'])
    assert.deepEqual(after, [['b']])
  })

  it('answers at once when the sync is synchronous and nothing is waiting', async () => {
    let synced = 0
    const queue = new WriteQueue(asOps, { durable: () => { synced++; return undefined } })
    const ops = await queue.submit([change('a'), change('b')])
    assert.deepEqual(ops.map(op => op.key), ['a', 'b'])
    assert.equal(synced, 1)
  })
})
