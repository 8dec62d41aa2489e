/**
 * MemberWatch, the relay's wait for a peer's sync handshake: a member known
 * now is admitted at once, a handshake that completes admits, one that names
 * another group refuses, and silence refuses after the deadline.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemberWatch } from '../src/relay.js'

describe('MemberWatch', () => {
  it('admits a member known now, or once its handshake completes; refuses a stranger or silence', async () => {
    const members = new Set(['alice'])
    const watch = new MemberWatch(peer => members.has(peer))
    assert.equal(await watch.until('alice'), true)
    const bob = watch.until('bob', 10_000)
    const bobAgain = watch.until('bob', 10_000)
    watch.joined('bob')
    assert.deepEqual(await Promise.all([bob, bobAgain]), [true, true])
    const mallory = watch.until('mallory', 10_000)
    watch.refused('mallory')
    assert.equal(await mallory, false)
    const started = Date.now()
    assert.equal(await watch.until('silent', 50), false)
    assert.ok(Date.now() - started < 5_000)
    watch.joined('silent') // late: nobody waits any more
  })
})
