/**
 * Whether an honest peer is charged into silence for ops this node asked for:
 * each op of a gossip message that a node holds already costs the sender one
 * of its 5,000 a second (gossip.ts). A node restarted straight after a burst
 * has an empty seen-cache, so its peers' gossip of the burst (IHAVE → IWANT,
 * or a late mesh delivery) brings ops its first pull brought too. Were that
 * to put the writer in debt, its next writes would reach the node only by
 * sync (seconds) instead of by gossip (milliseconds).
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { TestCluster, waitFor } from './harness.js'

const BURST = 20_000

describe('a node restarted straight after a burst', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('still takes the writer\'s next writes by gossip, promptly', async () => {
    const bob = await cluster.start('bob')
    const carol = await cluster.start('carol', { peers: [await bob.addr()] })
    const alice = await cluster.start('alice', { peers: [await bob.addr(), await carol.addr()] })
    await waitFor(async () => (await alice.status()).peers === 2, 'alice to connect to bob and carol')
    await alice.stop()
    const lines = Array.from({ length: BURST }, (_, i) => JSON.stringify({ key: `burst/${i}`, type: 'text', value: `v${i}` })).join('\n') + '\n'
    const imported = await bob.ctl(['import', '-'], lines)
    assert.equal(imported.code, 0, imported.stderr)
    await alice.start({ peers: [await bob.addr(), await carol.addr()] })
    await waitFor(async () => (await alice.ctl(['get', `burst/${BURST - 1}`])).code === 0, 'alice to catch up', 60_000)
    const took: number[] = []
    for (let i = 0; i < 20; i++) {
      const started = Date.now()
      await bob.put(`after/${i}`, 'x')
      await waitFor(async () => (await alice.rpc('kv_get', { key: `after/${i}` }).then(() => true, () => false)), `after/${i} to reach alice`, 30_000, 10)
      took.push(Date.now() - started)
    }
    console.log(`bob's writes after the burst reached alice in ${took.join(', ')} ms`)
    assert.ok(Math.max(...took) < 2_000, `a write took ${Math.max(...took)} ms to reach alice`)
  })
})
