/**
 * `status` → `peerSync` under churn, on a real murmurd: peers that pulled
 * once and left are not kept without bound (64 of them at most, see
 * peer-states.ts), while a peer still connected always is.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Attacker } from './attacker.js'
import { TestCluster, waitFor } from './harness.js'

describe('peerSync under churn', () => {
  const cluster = new TestCluster()
  const attackers: Attacker[] = []
  after(async () => {
    for (const attacker of attackers) await attacker.stop()
    await cluster.close()
  })

  it('keeps a connected peer and at most 64 of those gone', async () => {
    const node = await cluster.start('churn')
    const addr = await node.addr()
    const stays = await Attacker.start()
    attackers.push(stays)
    await stays.pull(addr)
    const staysId = stays.node.peerId.toString()
    // 70 peers, each pulls once and leaves, each from an address of its own (from one, libp2p's 5 new connections a
    // second from a host made them queue ~15 s for their turn)
    for (let i = 0; i < 70; i++) {
      const once = await Attacker.start('default', undefined, { from: `127.0.110.${2 + i}` })
      try {
        await once.pull(addr)
      } finally {
        await once.stop()
      }
    }
    await stays.pull(addr)
    const peerSync = await waitFor(async () => {
      const { peerSync } = await node.status() as { peerSync: Array<{ id: string }> }
      return peerSync.some(p => p.id === staysId) && peerSync
    }, 'the connected peer in peerSync')
    assert.ok(peerSync.length <= 65, `${peerSync.length} peers in peerSync`)
    assert.ok(peerSync.length >= 60, `the latest peers gone are kept: ${peerSync.length}`)
  })
})
