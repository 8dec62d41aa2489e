/** The cap on serves at once (serve-slots.ts), in process with a held clock. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ServeSlots } from '../src/sync/serve-slots.js'

describe('ServeSlots', () => {
  it('ends the serve whose puller took a frame longest ago, and only once every slot is taken', () => {
    let now = 0
    const slots = new ServeSlots(3, () => now)
    const ended: string[] = []
    const a = slots.take(() => ended.push('a'))
    now = 1
    const b = slots.take(() => ended.push('b'))
    now = 2
    slots.take(() => ended.push('c'))
    now = 3
    a.progressed()
    assert.equal(ended.length, 0)
    slots.take(() => ended.push('d'))
    assert.deepEqual(ended, ['b'], 'b took nothing since 1; a took a frame at 3')
    b.release()
    assert.equal(slots.size, 3)
    a.release()
    slots.take(() => ended.push('e'))
    assert.deepEqual(ended, ['b'], 'a released its slot: room without ending another')
  })
})
