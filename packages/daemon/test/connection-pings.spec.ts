/**
 * A peer that stops answering is noticed within seconds: a frozen process
 * (SIGSTOP) keeps its TCP connections open, the kernel acknowledging what
 * arrives, so only a ping that goes unanswered tells. Its connection is
 * closed; once it runs again the two reconnect and converge.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { TestCluster, waitFor } from './harness.js'

describe('connection pings', () => {
  const cluster = new TestCluster()
  after(async () => {
    for (const node of cluster.nodes.values()) node.process?.kill('SIGCONT')
    await cluster.close()
  })

  it('closes the connection to a frozen peer within seconds, and reconnects when it thaws', async () => {
    const alice = await cluster.start('alice')
    const bob = await cluster.start('bob', { peers: [await alice.addr()] })
    await waitFor(async () => (await alice.status()).peers === 1, 'alice to meet bob')
    bob.process?.kill('SIGSTOP')
    const frozenAt = Date.now()
    // pings every 5 s, a pong may take 10 s: gone within about 15 s
    await waitFor(async () => (await alice.status()).peers === 0, 'alice to close the connection to frozen bob', 30_000, 250)
    console.log(`# a frozen peer dropped after ${Date.now() - frozenAt} ms`)
    await alice.put('while-bob-slept', 'yes')
    bob.process?.kill('SIGCONT')
    await cluster.converged([alice, bob], 1, 60_000)
    assert.equal((await bob.ctl(['get', 'while-bob-slept'])).stdout, 'yes\n')
  })
})
