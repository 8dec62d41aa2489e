/**
 * Gossip messages whose op proofs claim slots the batch never fills (README,
 * Security). A proof claims how many ops it covers, and its 33 bytes a slot
 * were made as it was read: one proof of 1,024 slots takes 7 bytes, so a
 * 1.4 MB message of 200,000 of them made 6.6 GB of slots before the batch was
 * found to hold no op for any (and a stranger's first message passes every
 * rate limit). The slots a proof leaves to ops must now fit in what is left
 * of the batch (codec.ts), and such a message is refused at its first proof.
 * The sender is a libp2p node in the test process that publishes the bytes
 * as they are.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { Attacker } from './attacker.js'
import { TestCluster, logged, rssMb, waitFor } from './harness.js'


const PROOFS = 200_000

/** A batch (format 2, origin "o") of `PROOFS` proofs of 1,024 ops each, with a 1-byte signature `sig` and no digests, and no ops. */
function bomb (sig: number): Uint8Array {
  const count = [0x80 | (PROOFS & 0x7f), 0x80 | ((PROOFS >> 7) & 0x7f), PROOFS >> 14]
  const bytes = new Uint8Array(4 + count.length + PROOFS * 7 + 1)
  bytes.set([2, 1, 1, 0x6f, ...count])
  for (let i = 0, at = 4 + count.length; i < PROOFS; i++, at += 7) bytes.set([0, 1, 0x80, 0x08, 1, sig, 0], at)
  return bytes
}

describe('gossip messages of proofs that claim slots no op fills', () => {
  const cluster = new TestCluster()
  let mallory: Attacker | undefined
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('are refused at their first proof, and murmurd makes none of the slots', async () => {
    const victim = await cluster.start('victim')
    const pid = victim.process?.pid
    assert.ok(pid !== undefined)
    await victim.put('kept', 'intact')
    mallory = await Attacker.start()
    await mallory.dial(await victim.addr())
    const before = rssMb(pid)
    let peak = before
    const sent = 4
    for (let i = 0; i < sent; i++) {
      await mallory.publishRaw(bomb(10 + i))
      peak = Math.max(peak, rssMb(pid))
    }
    await waitFor(() => {
      peak = Math.max(peak, rssMb(pid))
      return (victim.stderr.match(/rejected gossip message/g) ?? []).length >= sent
    }, `murmurd to refuse the ${sent} messages`, 30_000, 50)
    const grown = peak - before
    console.log(`# ${sent} messages of ${PROOFS} proofs of 1,024 slots (${(bomb(0).byteLength / 1e6).toFixed(1)} MB each): murmurd's RSS grew ${grown.toFixed(1)} MB at most`)
    await logged(victim, /proof 0 covers 1024 ops and gives 0 digests|200000 proofs, each covering an op/, 'why it refused them')
    assert.ok(grown < 60, `murmurd grew ${grown.toFixed(1)} MB`)
    assert.equal(await victim.value('kept'), 'intact')
    assert.equal(victim.process?.exitCode, null)
  })
})
