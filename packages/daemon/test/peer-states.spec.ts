/** The per-peer sync states `status` shows, bounded under churn (in-process: the bound is pure logic). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PeerStates } from '../src/sync/peer-states.js'

describe('peer sync states under churn', () => {
  it('keeps every connected peer, and of the others the latest seen, each for a while', () => {
    const connected = new Set<string>(['stays'])
    const states = new PeerStates(() => connected, { maxIdle: 3, maxIdleMs: 1_000 })
    states.of('stays', 0).name = 'connected all along'
    for (let i = 0; i < 100; i++) states.of(`churn${i}`, i)
    assert.deepEqual([...states.all(100).keys()].sort(), ['churn97', 'churn98', 'churn99', 'stays'])
    assert.equal(states.all(100).get('stays')?.name, 'connected all along')
    // a peer seen again moves to the end; one connected is never counted against the bound
    states.of('churn97', 200)
    connected.add('churn98')
    states.of('new', 300)
    assert.deepEqual([...states.all(300).keys()].sort(), ['churn97', 'churn98', 'churn99', 'new', 'stays'])
    // past the age bound only connected peers stay
    assert.deepEqual([...states.all(5_000).keys()].sort(), ['churn98', 'stays'])
  })
})
