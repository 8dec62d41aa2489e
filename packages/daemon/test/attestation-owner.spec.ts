/**
 * Only a member's own attestation counts for it (README, Guarantees 5:
 * collection follows signed attestations, each written by its member): a
 * hostile member that signs an attestation under another member's key (one
 * that says bob holds nothing, which would hold back or mislead collection)
 * has it refused by gossip and by sync alike, and bob's own stays his row.
 * Real murmurd; the member is a libp2p node in the test process.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { attestationKey, encodeAttestation, proveOps, type Frame, type Op } from '@murmur/core'
import { Attacker, freshWriter } from './attacker.js'
import { TestCluster, waitFor } from './harness.js'
import { FAST, done, rejected, rejectedMessages } from './hostile-checks.js'

describe('an attestation written under another member\'s key', () => {
  const cluster = new TestCluster()
  let mallory: Attacker | undefined
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('is refused by gossip and by sync, and the member\'s own attestation stays its row', async () => {
    const alice = await cluster.start('alice', { args: FAST })
    const bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST })
    const bobId = (await bob.status()).id as string
    const key = attestationKey(bobId)
    await bob.put('k', 'from bob')
    await waitFor(async () => await alice.value('k') === 'from bob', 'bob\'s write to reach alice')
    // bob's own attestation, as alice holds it: its row (origin, seq) in her file
    const own = (): unknown => (alice.rows() as Array<{ key: string, origin: string, seq: number }>).find(row => row.key === key)
    const bobs = await waitFor(() => own() as { origin: string } | undefined, 'alice to hold bob\'s attestation', 30_000)
    assert.equal(bobs.origin, bobId)
    const server = await Attacker.start()
    mallory = server
    await server.dial(await alice.addr())
    await server.pull(await alice.addr()) // its hello shows it a member: alice's anti-entropy pulls from it
    const [ops, messages] = [await rejected(alice), await rejectedMessages(alice)]
    // "bob holds nothing", signed by mallory, under bob's key: by gossip
    const lie = (): ReturnType<Attacker['op']> => server.op(key, null, { value: encodeAttestation(new Map()) })
    await server.publish([lie()])
    await waitFor(async () => await rejectedMessages(alice) > messages, 'alice to reject the gossip message that carried it', 15_000)
    // and in a pull, followed by an op of a writer of its own (its seqs are the lies', which alice lacks) that alice takes
    const writer = await freshWriter()
    const marker: Op = { key: 'mallory:marker', value: Buffer.from('x'), wall: Date.now(), logical: 0, origin: writer.origin, seq: 1 }
    proveOps([marker], writer.sign)
    server.answer = (_puller, hello): Frame[] => [server.hello(hello), { kind: 'ops', ops: [lie()] }, { kind: 'ops', ops: [marker] }, done]
    await waitFor(async () => await alice.value('mallory:marker') === 'x', 'alice to pull from mallory', 15_000)
    await waitFor(async () => await rejected(alice) > ops, 'alice to refuse the attestation sent in a pull', 15_000)
    assert.deepEqual(own(), (alice.rows() as Array<{ key: string, origin: string }>).find(row => row.key === key && row.origin === bobId), 'bob\'s attestation is still his own')
    assert.equal((own() as { origin: string }).origin, bobId)
    assert.match(alice.stderr, /an attestation for [^"]* written by /, 'the refusal says why')
  })
})
