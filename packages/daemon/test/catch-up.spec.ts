/**
 * Catch-up costs one copy of what was missed: a node that was away during a
 * burst of writes receives each missed op once, from its first pull, and not
 * again from its other peers or from later pulls. A node that comes back in
 * the middle of a burst, when its peers offer it the last seconds of messages
 * by gossip, keeps gossip with them.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { MurmurClient } from '@murmur/protocol'
import { TestCluster, waitFor } from './harness.js'

const KEYS = 5_000

/** Writes `batches` JSON-RPC batches of 1,000 puts of 400-byte values (one gossip message of ~430 kB each) on `node`, numbered from `first`. */
async function burst (socket: string, first: number, batches: number): Promise<void> {
  const client = await MurmurClient.connect(socket)
  try {
    for (let b = first; b < first + batches; b++) {
      await client.batch(Array.from({ length: 1000 }, (_, j) => ({ method: 'kv_put' as const, params: { key: `burst:${b * 1000 + j}`, value: `${b * 1000 + j}`.padStart(400, 'v') } })))
    }
  } finally {
    client.close()
  }
}

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

  it('a node restarted in the middle of a burst keeps gossip with its peers', async () => {
    // anti-entropy far apart: what reaches the restarted node after its first pulls comes by gossip
    const args = ['--anti-entropy-interval', '600000']
    // gossipsub's own debug output: what the node asks for by IWANT, and any stream it loses
    const env = { ...process.env, DEBUG: 'libp2p:gossipsub,libp2p:gossipsub:error' }
    const a = await cluster.start('a2', { args })
    const b = await cluster.start('b2', { args, peers: [await a.addr()] })
    const peers = [await a.addr(), await b.addr()]
    const c = await cluster.start('c2', { args, peers })
    await waitFor(async () => (await c.status()).peers === 2, 'c2 to meet a2 and b2')
    assert.equal(await c.stop(), 0)
    await burst(a.socket, 0, 20)
    // c2 comes back while a2 still writes: its peers offer it the last seconds of batches by IHAVE
    await Promise.all([burst(a.socket, 20, 20), c.start({ args, peers, env })])
    await waitFor(async () => (await c.status()).keys === 40_000, 'c2 to catch up', 60_000)
    await cluster.converged([a, b, c], 40_000)
    // one IWANT answered in one RPC: 5 messages of ~430 kB are over the 1.5 MiB a peer reads in one
    const asked = Math.max(0, ...[...c.stderr.matchAll(/IHAVE: Asking for (\d+) out of/g)].map(m => Number(m[1])))
    assert.ok(asked >= 5, `c2 asked for at most ${asked} messages by one IWANT; the scenario needs an answer over one RPC's limit`)
    assert.doesNotMatch(c.stderr, /libp2p:gossipsub:error/, 'gossipsub lost a stream')
    const members = await c.json<Array<{ name?: string, gossip?: boolean }>>(['peers'])
    assert.deepEqual(members.map(p => [p.name, p.gossip]).sort(), [['a2', true], ['b2', true]])
    // and c2's writes reach both by gossip, anti-entropy being minutes away
    await c.put('after-burst', 'by gossip')
    await waitFor(async () => await a.value('after-burst') !== undefined && await b.value('after-burst') !== undefined, 'c2\'s write to reach a2 and b2', 10_000)
  })
})
