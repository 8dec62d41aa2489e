/**
 * Gossip messages whose op proofs claim slots the batch never fills (README,
 * Security). A proof claims how many ops it covers, and its 33 bytes a slot
 * were made as it was read: one proof of 1,024 slots takes 7 bytes, so a
 * 1.4 MB message of 200,000 of them made 6.6 GB of slots before the batch was
 * found to hold no op for any (and a stranger's first message passes every
 * rate limit). The slots a proof leaves to ops must now fit in what is left
 * of the batch (codec.ts), and such a message is refused at its first proof.
 * The sender is a libp2p node in the test process that publishes the bytes
 * as they are, and answers the victim's pulls with them as an ops frame: the
 * sync path reads ops with the same decoder, and must end the pull at once.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { encodeFrame } from '@murmur/core'
import { Attacker, prefixed } from './attacker.js'
import { TestCluster, logged, rssMb, waitFor } from './harness.js'
import { FAST } from './hostile-checks.js'


const PROOFS = 200_000
/** In a pull's frame: 675 MB of slots as the old decoder made them, in a frame of 140 kB (within a stream's first window). */
const FRAME_PROOFS = 20_000

/** A batch (format 2, origin "o") of `proofs` proofs of 1,024 ops each, with a 1-byte signature `sig` and no digests, and no ops. */
function bomb (sig: number, proofs = PROOFS): Uint8Array {
  const PROOFS = proofs
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

  it('in a pull\'s ops frame end that pull at the frame, and murmurd makes none of the slots', async () => {
    const puller = await cluster.start('puller', { args: FAST })
    const pid = puller.process?.pid
    assert.ok(pid !== undefined)
    await puller.put('kept', 'intact')
    const server = await Attacker.start()
    try {
      let answered = 0
      // a valid hello that claims ops of the server's own the puller lacks (so it reads on, and pulls again), then the bomb as one ops frame
      server.rawAnswer = (_puller, hello) => {
        answered++
        return [prefixed(encodeFrame(server.hello(hello, { vector: { ...hello.vector, [server.id]: 5 } }))), prefixed(Buffer.concat([Uint8Array.of(2), bomb(50 + answered, FRAME_PROOFS)]))]
      }
      const before = rssMb(pid)
      let peak = before
      // its connection opening has the puller pull from it; its hello makes it a member, pulled from again and again
      await server.dial(await puller.addr())
      const pulls = 4
      await waitFor(() => {
        peak = Math.max(peak, rssMb(pid))
        return answered >= pulls && (puller.stderr.match(/malformed ops frame/g) ?? []).length >= pulls
      }, `the puller to pull ${pulls} times and end each pull`, 30_000, 50).catch(err => {
        throw new Error(`${(err as Error).message} (pulls answered: ${answered}; log: ${puller.stderr.split('\n').filter(line => /sync|pull|gossip/.test(line)).slice(-12).join(' | ').slice(0, 6000)})`)
      })
      const grown = peak - before
      console.log(`# ${pulls} pulls answered with an ops frame of ${FRAME_PROOFS} proofs of 1,024 slots: murmurd's RSS grew ${grown.toFixed(1)} MB at most`)
      await logged(puller, /malformed ops frame: .*(proof 0 covers 1024 ops and gives 0 digests|20000 proofs, each covering an op)/, 'why it ended the pulls')
      assert.ok(grown < 60, `murmurd grew ${grown.toFixed(1)} MB`)
      assert.equal(await puller.value('kept'), 'intact')
      assert.equal(puller.process?.exitCode, null)
    } finally {
      await server.stop()
    }
  })
})
