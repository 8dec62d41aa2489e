/**
 * Ops a hostile member dresses up, against real daemons (test/attacker.ts):
 * an op signed in one group must not be taken in another, and an op spliced
 * under another batch's proof must be refused, over gossip and over sync,
 * with no row changed (README, Security).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { MurmurClient } from '@murmur/protocol'
import { DIGEST_BYTES, encodeFrame, encodeOps, type Op } from '@murmur/core'
import { Attacker, prefixed } from './attacker.js'
import { TestCluster, logged, waitFor } from './harness.js'
import { FAST, alive, done, rejected, rejectedMessages, value } from './hostile-checks.js'

describe('an op signed in one group, replayed into another', () => {
  const cluster = new TestCluster()
  let insider: Attacker
  let mallory: Attacker
  after(async () => {
    await insider?.stop()
    await mallory?.stop()
    await cluster.close()
  })

  it('is refused and counted over gossip and over sync, and never appears in the group it was replayed into', async () => {
    const alice = await cluster.start('alice', { args: FAST })
    const bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST })
    const gamma = await cluster.start('gamma', { group: 'other', args: FAST })
    const gammaId = (await gamma.status()).id
    await gamma.put('shared:key', 'from other')
    // a member of "other" takes every op gamma wrote, genuine and signed, from its first seq
    insider = await Attacker.start('other')
    const captured = await waitFor(async () => {
      const ops = await insider.pull(await gamma.addr(), 'other')
      return ops.some(op => op.key === 'shared:key' && op.proof != null) && ops
    }, 'gamma to serve its signed op to the insider')
    assert.ok(captured.every(op => op.origin === gammaId && op.proof != null))
    // ... and a member of the default group replays them there, over gossip and over sync
    mallory = await Attacker.start('default')
    mallory.answer = (_puller, hello) => [mallory.hello(hello), { kind: 'ops', ops: captured }, done]
    const before = await rejected(alice)
    const messagesBefore = await rejectedMessages(alice)
    const pulls = mallory.pulls.length
    await mallory.dial(await alice.addr())
    await mallory.publish(captured)
    // alice has pulled from mallory twice, and refused the replay each way, or taken it
    const refusedBoth = async (): Promise<boolean> => await rejectedMessages(alice) >= messagesBefore + 1 && await rejected(alice) >= before + captured.length
    await waitFor(async () => mallory.pulls.length > pulls + 1 && (await refusedBoth() || await alice.value('shared:key') !== undefined), 'alice to refuse the replay from gossip and from a pull')
    assert.equal(await value(alice, 'shared:key'), 4, 'alice took an op signed for another group')
    assert.ok(await refusedBoth(), 'the gossip message and every op of the pull were refused and counted')
    await logged(alice, /bad signature.*"rejected gossip message"/, 'alice refused the replayed ops from gossip')
    await logged(alice, /refused ops from peer/, 'alice refused them from a pull')
    await alice.put('after:replay', 'ok')
    await cluster.converged([alice, bob], 1)
    await alive([alice, bob, gamma])
    for (const node of [alice, bob]) {
      assert.equal(await value(node, 'shared:key'), 4, `${node.name} holds no op of the other group`)
      assert.equal((await node.status()).versionVector[gammaId], undefined)
    }
    assert.equal(await rejected(bob) + await rejectedMessages(bob), 0, 'alice forwarded none of it')
  })
})

/**
 * The encoding of `op` (alone, under its proof) with the digest of its own
 * slot `slot` also written among the proof's digests, as the proof has it:
 * the decoder must not let that digest stand in for the op's own.
 */
function digestGiven (op: Op, slot: number): Uint8Array {
  const proof = op.proof as NonNullable<Op['proof']>
  const bytes = Buffer.from(encodeOps([op]))
  // the proof's digest count follows its signature (the op's own slot left out: one fewer than it covers)
  const at = bytes.indexOf(Buffer.from(proof.sig)) + proof.sig.length
  const count = proof.digests.length / DIGEST_BYTES
  assert.ok(at >= proof.sig.length && bytes[at] === count - 1 && count < 0x7f)
  return Buffer.concat([bytes.subarray(0, at), Buffer.of(count, slot), proof.digests.subarray(slot * DIGEST_BYTES, (slot + 1) * DIGEST_BYTES), bytes.subarray(at + 1)])
}

describe('an op spliced under another signed batch\'s proof', () => {
  const cluster = new TestCluster()
  let mallory: Attacker
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('is refused and counted over gossip and over sync; no row changes, on the writer or on a node that holds nothing', async () => {
    const alice = await cluster.start('alice', { args: FAST })
    const client = await MurmurClient.connect(alice.socket)
    mallory = await Attacker.start()
    const addr = await alice.addr()
    const batch = async (prefix: string): Promise<Op[]> => {
      await client.batch(['1', '2', '3'].map(i => ({ method: 'kv_put' as const, params: { key: `${prefix}${i}`, value: `${prefix}${i} value` } })))
      // signed as they leave: served once signed
      return await waitFor(async () => {
        const ops = (await mallory.pull(addr)).filter(op => op.key.startsWith(prefix))
        return ops.length === 3 && ops.every(op => op.proof != null) && ops
      }, `alice to sign the ${prefix} batch`)
    }
    let a: Op[]
    let b: Op[]
    try {
      a = await batch('splice:a')
      b = await batch('splice:b')
    } finally {
      client.close()
    }
    const [proofA, proofB] = [a[0]?.proof, b[0]?.proof]
    assert.ok(proofA != null && proofB != null && a.every(op => op.proof === proofA) && b.every(op => op.proof === proofB), 'each JSON-RPC batch is one signed batch')
    assert.notEqual(proofA.first, proofB.first)
    const first = a.find(op => op.seq === proofA.first) as Op
    const { proof: _, ...content } = b[0] as Op
    const spliced: Op[][] = [
      // b's first op, put in a's first slot under a's proof
      [{ ...content, seq: proofA.first, proof: proofA }],
      // ... with a's genuine other ops beside it
      [{ ...content, seq: proofA.first, proof: proofA }, ...a.filter(op => op !== first)],
      // a's first op under b's signature
      [{ ...first, proof: { ...proofA, sig: proofB.sig } }]
    ]
    // b's first op in a's first slot again, with that slot's genuine digest on the wire too (no encoder writes that)
    const withDigest = digestGiven({ ...content, seq: proofA.first, proof: proofA }, 0)
    // alice's ops before batch a (if any), genuine: a node that holds nothing of her would take a's first slot next
    const earlier = (await mallory.pull(addr)).filter(op => op.seq < proofA.first)
    mallory.answer = (_puller, hello) => [mallory.hello(hello), ...(earlier.length > 0 ? [{ kind: 'ops' as const, ops: earlier }] : []), ...spliced.map(ops => ({ kind: 'ops' as const, ops })), done]
    // (a frame that does not decode ends a pull: sent last, raw)
    const answer = mallory.answer
    mallory.rawAnswer = async function * (puller, hello) {
      for await (const frame of answer(puller, hello)) if (frame !== done) yield prefixed(encodeFrame(frame))
      yield prefixed(Uint8Array.of(0x02, ...withDigest))
    }
    const carol = await cluster.start('carol', { args: FAST })
    const rowsBefore = alice.userRows()
    const before = [await rejectedMessages(alice), await rejectedMessages(carol), await rejected(carol)]
    const pulls = mallory.pulls.length
    await mallory.dial(await carol.addr())
    await mallory.dial(addr)
    if (earlier.length > 0) await mallory.publish(earlier)
    for (const ops of spliced) await mallory.publish(ops)
    await mallory.publishRaw(withDigest)
    // each message over gossip is one message rejected, on both; over sync (carol), each op is refused. But a's first
    // op under b's signature is one alice holds: it changes nothing there whatever its proof, so she does not check it
    // and ignores the message (forwarding it to no one); carol, who lacks it, refuses it
    const refusedAll = async (): Promise<boolean> => await rejectedMessages(alice) >= (before[0] ?? 0) + spliced.length &&
      await rejectedMessages(carol) >= (before[1] ?? 0) + spliced.length + 1 && await rejected(carol) >= (before[2] ?? 0) + spliced.flat().length
    // both pulled from mallory, and refused every splice, or took one
    await waitFor(async () => new Set(mallory.pulls.slice(pulls).map(p => p.puller)).size === 2 &&
      (await refusedAll() || carol.userRows().length > 0 || JSON.stringify(alice.userRows()) !== JSON.stringify(rowsBefore)), 'alice and carol to refuse the splices from gossip and from a pull')
    await alive([alice, carol])
    assert.deepEqual(alice.userRows(), rowsBefore, 'alice\'s rows are unchanged')
    assert.deepEqual(carol.userRows(), [], 'carol took nothing spliced')
    assert.ok(await refusedAll(), 'every splice was refused and counted')
    await logged(carol, /is already in its proof.*"rejected gossip message"/, 'the digest beside the op is malformed')
    for (const node of [alice, carol]) assert.deepEqual((await node.status()).replication.equivocators, {}, `${node.name} saw no second op for one seq`)
    // carol meets alice: she ends with alice's rows, every one
    await mallory.stop()
    await carol.ctl(['connect', addr])
    await cluster.converged([alice, carol], 6)
    assert.deepEqual(carol.userRows(), alice.userRows())
  })
})
