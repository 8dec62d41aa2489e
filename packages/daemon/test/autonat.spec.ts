/**
 * The AutoNAT wrapper with a stubbed connection manager (no network): a dial
 * to one multiaddr, AutoNAT's dial-back, always opens a new connection; a
 * dial by peer or by a list of addresses is passed on as it was.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { freshDialBacks } from '../src/autonat.js'
import type { ConnectionManager } from '@libp2p/interface-internal'

const PEER = '12D3KooWE4aK6nUwyAX6U7q5FaL2s1HXxPxfpLxc4R3gHpP6BELu'

describe('AutoNAT dial-backs', () => {
  const calls: Array<{ force?: boolean, priority?: number }> = []
  const manager = {
    maxConnections: 256,
    getMaxConnections (this: { maxConnections: number }) { return this.maxConnections },
    openConnection: async (_peer: unknown, options: { force?: boolean, priority?: number } = {}) => { calls.push(options); return {} as any }
  } as unknown as ConnectionManager
  const wrapped = freshDialBacks(manager)

  it('forces a new connection for a dial to one multiaddr, keeping the other options', async () => {
    await wrapped.openConnection(multiaddr(`/ip6/3fff::1/tcp/4001/p2p/${PEER}`), { priority: 7 })
    assert.deepEqual(calls.pop(), { priority: 7, force: true })
  })

  it('leaves dials by peer ID or by a list of addresses alone', async () => {
    await wrapped.openConnection(peerIdFromString(PEER))
    assert.deepEqual(calls.pop(), {})
    await wrapped.openConnection([multiaddr('/ip6/3fff::1/tcp/4001')], { priority: 1 })
    assert.deepEqual(calls.pop(), { priority: 1 })
  })

  it('passes every other member through, bound to the manager', () => {
    assert.equal(wrapped.getMaxConnections(), 256)
  })
})
