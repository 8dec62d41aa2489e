/**
 * Catch-up costs one copy of what was missed: a node that was away during a
 * burst of writes receives each missed op once, from its first pull, and not
 * again from its other peers or from later pulls. (A node back within a few
 * seconds used to be offered the burst's last messages by IHAVE, out of its
 * peers' mesh: see gossip-restart.spec.ts and gossip-iwant.spec.ts.)
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { MurmurClient } from '@murmur/protocol'
import { TestCluster, waitFor } from './harness.js'

const KEYS = 5_000

/** User ops (not murmur's own attestations) received from peers, by sync or gossip, as the node's debug log counts them. */
function received (stderr: string): number {
  let total = 0
  for (const line of stderr.split('\n')) {
    if (!line.includes('"applied remote ops"')) continue
    total += (JSON.parse(line) as { userOps: number }).userOps
  }
  return total
}

describe('catch-up after a restart', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('a node that missed a burst receives each missed op once', async () => {
    const a = await cluster.start('a')
    const b = await cluster.start('b', { peers: [await a.addr()] })
    const peers = [await a.addr(), await b.addr()]
    const c = await cluster.start('c', { peers })
    await waitFor(async () => (await c.status()).peers === 2, 'c to meet a and b')
    assert.equal(await c.stop(), 0)

    const client = await MurmurClient.connect(a.socket)
    try {
      for (let i = 0; i < KEYS; i += 500) {
        await client.batch(Array.from({ length: 500 }, (_, j) => ({ method: 'kv_put' as const, params: { key: `burst:${i + j}`, value: `value ${i + j}` } })))
      }
    } finally {
      client.close()
    }
    // away past gossipsub's IHAVE window (3 heartbeats of 1 s), as a node that was offline is;
    // within it, its peers would also offer it the window's messages again by gossip
    await new Promise(resolve => setTimeout(resolve, 4_000))
    await c.start({ peers })
    await waitFor(async () => (await c.status()).keys === KEYS, 'c to catch up', 30_000)
    await cluster.converged([a, b, c], KEYS)
    assert.equal(received(c.stderr), KEYS, 'ops received by the restarted node, by sync and gossip together')
  })
})
