/**
 * Signing as ops leave, on real daemons: the single puts one gossip message
 * carries share one signature, every replica stores the same proof, and a
 * writer killed after acknowledging puts but before sending them (their
 * proofs not yet written) signs them as it starts again, and only then
 * serves them.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { kvStoreDigest } from '@murmur/core'
import { MurmurClient } from '@murmur/protocol'
import { TestCluster, waitFor, type TestNode } from './harness.js'

/** How many user rows the node holds without a signature, and how many distinct signatures the rest carry. */
function signing (node: TestNode): { unsigned: number, signatures: number, unsignedKeys: string[] } {
  const db = new Database(join(node.dataDir, 'murmur.db'), { readonly: true, fileMustExist: true })
  try {
    const unsignedKeys = db.prepare<[], string>('SELECT key FROM kv_store WHERE key >= char(1) AND sig IS NULL ORDER BY key').pluck().all()
    const signatures = db.prepare<[], number>('SELECT count(DISTINCT sig) FROM kv_store WHERE key >= char(1)').pluck().get() ?? 0
    return { unsigned: unsignedKeys.length, signatures, unsignedKeys }
  } finally {
    db.close()
  }
}

const digest = (node: TestNode): string => kvStoreDigest(join(node.dataDir, 'murmur.db'))

async function putEach (node: TestNode, keys: string[]): Promise<void> {
  const client = await MurmurClient.connect(node.socket)
  try {
    for (const key of keys) await client.call('kv_put', { key, value: `value of ${key}` })
  } finally {
    client.close()
  }
}

describe('signing as ops leave', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('gives the sequential puts of one message one signature, the same on every replica', async () => {
    // a wide window: the puts after the first wait for it and leave together
    const alice = await cluster.start('alice', { args: ['--publish-window', '300'] })
    const bob = await cluster.start('bob', { peers: [await alice.addr()] })
    await waitFor(async () => (await bob.status()).peers === 1, 'bob to meet alice')
    const keys = Array.from({ length: 40 }, (_, i) => `seq:${i}`)
    await putEach(alice, keys)
    await cluster.converged([alice, bob], keys.length)
    await waitFor(() => signing(alice).unsigned === 0, 'alice to have signed every row')
    const { signatures } = signing(alice)
    assert.ok(signatures <= keys.length / 4, `${signatures} signatures for ${keys.length} sequential puts: several commits share one`)
    await waitFor(() => digest(bob) === digest(alice), 'identical kv_store bytes, signatures included')
    assert.equal((await bob.status()).counters.rejected, 0, 'bob refused nothing')
    await Promise.all([alice.stop(), bob.stop()])
  })

  it('signs, as the writer starts again, what a kill -9 left acknowledged but never sent', async () => {
    const args = ['--publish-window', '1000', '--anti-entropy-interval', '500']
    const carol = await cluster.start('carol', { args })
    const dave = await cluster.start('dave', { peers: [await carol.addr()], args })
    await waitFor(async () => (await dave.status()).peers === 1, 'dave to meet carol')
    // the first put leaves at once; the five after it wait for the window, and carol dies before it passes
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5']
    await putEach(carol, keys)
    await carol.stop('SIGKILL')
    const left = signing(carol)
    assert.ok(left.unsigned >= 1, `acknowledged puts on disk without their proofs: ${left.unsignedKeys.join(' ')}`)
    const daveHas = (await dave.entries()).map(e => e.key)
    assert.ok(left.unsignedKeys.every(key => !daveHas.includes(key)), 'an unsigned op never reached dave')

    await cluster.start('carol', { args, peers: [await dave.addr()] })
    await cluster.converged([carol, dave], keys.length, 20_000)
    assert.equal(signing(carol).unsigned, 0, 'signed as it started')
    await waitFor(() => digest(dave) === digest(carol), 'identical kv_store bytes, signatures included')
    assert.equal((await dave.status()).counters.rejected, 0, 'dave refused nothing: no op left carol unsigned')
  })
})
