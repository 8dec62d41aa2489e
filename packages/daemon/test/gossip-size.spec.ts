/**
 * The README's cap on inbound gossip ("inbound messages are capped near the
 * op-batch size": the largest value, 1 MiB, plus 512 KiB an RPC), tried the
 * way a hostile member would on real murmurd (test/attacker.ts): a message
 * over it, though every op in it is genuine and small, is dropped before
 * murmurd decodes a byte of it, so it costs the node no validation; the node
 * runs on, and an honest peer's writes, the largest value included, arrive.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Attacker } from './attacker.js'
import { TestCluster, waitFor } from './harness.js'

/** murmurd's largest value (1 MiB); the cap on one inbound RPC is 512 KiB more. */
const MAX_VALUE = 1024 * 1024

describe('a member that publishes a gossip message over the cap', () => {
  const cluster = new TestCluster()
  let mallory: Attacker
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('has it dropped unread: its ops neither taken nor refused, and the node keeps replicating', async () => {
    const alice = await cluster.start('alice')
    const bob = await cluster.start('bob', { peers: [await alice.addr()] })
    mallory = await Attacker.start()
    await mallory.dial(await alice.addr())

    // genuine ops of mallory's, 20 of 100 KiB in one message: each far within the largest value, the message over the cap
    const flood = mallory.sign(Array.from({ length: 20 }, (_, i) => mallory.op(`big:${i}`, 'm'.repeat(100 * 1024), {}, false)))
    await mallory.publish(flood)
    // gossipsub drops a stream that carried an RPC over the cap: mallory connects again and sends her next op, alone,
    // which alice reads, and holds waiting for the 20 before it
    await mallory.hangUp(await alice.addr())
    await mallory.dial(await alice.addr())
    await mallory.publish([mallory.op('small', 'after the big one')])
    await waitFor(async () => (await alice.status()).replication.waiting >= 1, 'alice to read mallory\'s next op and hold it for the gap')
    assert.deepEqual((alice.userRows() as Array<{ key: string }>).filter(row => row.key.startsWith('big:')), [], 'none of the big message\'s ops was taken')
    assert.equal((await alice.status()).counters.rejected, 0, 'nor refused: it was never validated')

    const big = 'v'.repeat(MAX_VALUE)
    assert.equal((await bob.ctl(['put', 'honest:big', '-'], big)).code, 0)
    await waitFor(async () => await alice.value('honest:big') === big, 'bob\'s largest value to reach alice')
    assert.equal(alice.process?.exitCode, null, 'alice\'s murmurd still runs')
  })
})
