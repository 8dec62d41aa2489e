/**
 * A peer that stops answering is noticed within seconds: a frozen process
 * (SIGSTOP) keeps its TCP connections open, the kernel acknowledging what
 * arrives, so only a ping that goes unanswered tells. Its connection is
 * closed; once it runs again the two reconnect and converge. alice pings
 * with `--ping-timeout` 2000 (every second, a pong within 2 s) rather than
 * its default of 10000, to wait less.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { TestCluster, waitFor } from './harness.js'

const PING_TIMEOUT_MS = 2_000

describe('connection pings', () => {
  const cluster = new TestCluster()
  after(async () => {
    for (const node of cluster.nodes.values()) node.process?.kill('SIGCONT')
    await cluster.close()
  })

  it('closes the connection to a frozen peer within seconds, and reconnects when it thaws', async () => {
    const alice = await cluster.start('alice', { args: ['--ping-timeout', String(PING_TIMEOUT_MS)] })
    const bob = await cluster.start('bob', { peers: [await alice.addr()] })
    await waitFor(async () => (await alice.status()).peers === 1, 'alice to meet bob')
    bob.process?.kill('SIGSTOP')
    const frozenAt = Date.now()
    // pings every second, a pong may take 2 s: gone within about 3 s
    await waitFor(async () => (await alice.status()).peers === 0, 'alice to close the connection to frozen bob', 8 * PING_TIMEOUT_MS, 250)
    console.log(`# a frozen peer dropped after ${Date.now() - frozenAt} ms`)
    await alice.put('while-bob-slept', 'yes')
    bob.process?.kill('SIGCONT')
    await cluster.converged([alice, bob], 1, 60_000)
    assert.equal((await bob.ctl(['get', 'while-bob-slept'])).stdout, 'yes\n')
  })
})
