/**
 * Ops that wait past a gap hold their whole proof (README, Security: what a
 * member cannot do). A proof names the digest of every op its batch covers,
 * up to 1,024; a member can sign each small op alone in a proof that claims
 * 1,023 more (made up), so that every waiting op holds 32 KiB. Each op was
 * charged only its own ~200 bytes against the 64 MiB budget: ~330,000 such ops
 * fit, pinning ~10 GB. Each proof is now charged once, for as long as an op
 * that holds it waits (core's `PendingOps`), so what waits is what the budget
 * says.

 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { Frame, Op } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, rssBytes, waitFor } from './harness.js'

/** The replica's default budget for ops waiting past a gap (core's `PendingOps`). */
const BUDGET = 64 * 1024 * 1024
/** Slots each proof claims: the most the decoder takes. */
const COVERS = 1024
/** Ops past the gap (seq 2 on), each in its own proof: ~100 MB on the wire, half as much again as fits. */
const OPS = 3_000
/** Ops a frame: 25 × ~34 KB stays under a frame's 1 MiB. */
const PER_FRAME = 25

describe('a member that signs each op it sends past a gap in a proof of 1,024 made-up digests', () => {
  const cluster = new TestCluster()
  let mallory: Attacker | undefined
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('has them charged 32 KiB each: no more wait than the budget holds, and the bytes reported are what they hold', async () => {
    const alice = await cluster.start('alice', { args: ['--anti-entropy-interval', '1000', '--anti-entropy-max-interval', '1000'] })
    mallory = await Attacker.start()
    const attacker = mallory
    const base = Date.now()
    // seq 1 never comes: everything else waits for it
    const ops: Op[] = []
    for (let seq = 2; seq <= OPS + 1; seq++) ops.push(attacker.signPadded(attacker.op(`k${seq}`, 'v', { seq, wall: base + seq }, false), COVERS))
    let served = 0
    attacker.answer = function * (_puller, hello) {
      yield attacker.hello(hello)
      for (let i = 0; i < ops.length; i += PER_FRAME) yield { kind: 'ops', ops: ops.slice(i, i + PER_FRAME) } satisfies Frame
      yield { kind: 'control', message: { t: 'done' } }
      served++
    }
    const pid = alice.process?.pid as number
    const before = rssBytes(pid)
    await attacker.dial(await alice.addr())
    await attacker.pull(await alice.addr()) // its hello shows it a member: alice's anti-entropy pulls from it
    // once alice pulls again, she has taken the whole first answer
    await waitFor(() => served >= 1 && attacker.pulls.length >= 2, 'alice to pull every op from mallory, and begin again', 90_000, 100)
    const status = await alice.status()
    const { waiting, waitingBytes } = status.replication
    const each = 32 * COVERS
    console.log(`# ${OPS} ops sent past a gap, each in a proof of ${COVERS} digests (${(OPS * each / 2 ** 20).toFixed(0)} MiB of proofs): ${waiting} wait, ${(waitingBytes / 2 ** 20).toFixed(1)} MiB charged; alice's RSS ${(before / 1e6).toFixed(0)} → ${(rssBytes(pid) / 1e6).toFixed(0)} MB`)
    assert.ok(waiting <= Math.floor(BUDGET / each), `${waiting} ops wait, each holding ${each} bytes of proof: more than ${BUDGET} bytes`)
    assert.ok(waiting > Math.floor(BUDGET / each) / 2, `${waiting} ops wait: the test sends enough to fill the budget`)
    assert.ok(waitingBytes >= waiting * each && waitingBytes <= BUDGET, `${waitingBytes} bytes charged for ${waiting} ops`)
    assert.equal(status.versionVector[attacker.id], undefined, 'nothing of mallory\'s counted while seq 1 is missing')
    assert.equal(status.keys, 0)
    assert.equal((await alice.ctl(['put', 'after', 'ok'])).code, 0)
  })
})
