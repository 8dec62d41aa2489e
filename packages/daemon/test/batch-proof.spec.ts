/**
 * One signature per batch, end to end: JSON-RPC batches of puts are signed as
 * a few batches, partly overwritten, and relayed by a third node to a newcomer
 * that never talks to the writer. The newcomer must check every op it gets
 * (a subset of each batch, with the digests of the rest) and end with the
 * same rows and, once superseded ops are collected everywhere, the same
 * batch table as the writer, refusing nothing.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { MurmurClient } from '@murmur/protocol'
import { TestCluster, waitFor, type TestNode } from './harness.js'

interface Picture {
  /** Every kv_store row of a user key with its batch signature, as hex. */
  rows: unknown[]
  /** Every op_batch row, as hex. */
  batches: unknown[]
  /** op_batch rows whose `live` is not the number of ops (kv_store rows and history) signed by that batch. */
  miscounted: number
  /** Distinct signatures over the user rows. */
  signatures: number
  /** The largest batch. */
  largest: number
  /** User rows not signed yet. */
  unsigned: number
}

function picture (node: TestNode): Picture {
  const db = new Database(join(node.dataDir, 'murmur.db'), { readonly: true, fileMustExist: true })
  try {
    const one = (sql: string): number => db.prepare<[], number>(sql).pluck().get() ?? 0
    return {
      rows: db.prepare(`SELECT key, hex(value), wall, logical, origin, seq, hex(sig) FROM kv_store WHERE key >= char(1) ORDER BY key`).raw().all(),
      batches: db.prepare('SELECT hex(sig), first, hex(digests), live FROM op_batch ORDER BY first').raw().all(),
      miscounted: one(`SELECT count(*) FROM op_batch b WHERE live !=
        (SELECT count(*) FROM kv_store k WHERE k.sig = b.sig) + (SELECT count(*) FROM op_history h WHERE h.sig = b.sig)`),
      signatures: one('SELECT count(DISTINCT sig) FROM kv_store WHERE key >= char(1)'),
      largest: one('SELECT max(length(digests)) / 32 FROM op_batch'),
      unsigned: one('SELECT count(*) FROM kv_store WHERE key >= char(1) AND sig IS NULL')
    }
  } finally {
    db.close()
  }
}

describe('batch signatures', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('a relayed subset of each batch checks out on a node that never met the writer', async () => {
    const fast = { args: ['--anti-entropy-interval', '500'] }
    const alice = await cluster.start('alice', fast)
    const bob = await cluster.start('bob', { peers: [await alice.addr()], ...fast })
    await waitFor(async () => (await bob.status()).peers === 1, 'bob to meet alice')

    const client = await MurmurClient.connect(alice.socket)
    try {
      await client.batch(Array.from({ length: 600 }, (_, i) => ({ method: 'kv_put' as const, params: { key: `cfg:${i}`, value: `v1 ${i}` } })))
      // every third key again, and a few deletes: the first batches keep only some of their ops
      await client.batch(Array.from({ length: 200 }, (_, i) => ({ method: 'kv_put' as const, params: { key: `cfg:${i * 3}`, value: `v2 ${i * 3}` } })))
      await client.batch([1, 4, 7].map(i => ({ method: 'kv_delete' as const, params: { key: `cfg:${i}` } })))
    } finally {
      client.close()
    }
    // ops are signed as they leave (a window after their commit): the picture once every row carries its proof
    await waitFor(() => picture(alice).unsigned === 0, 'alice to sign what it wrote')
    const written = picture(alice)
    assert.equal(written.rows.length, 600)
    assert.equal(written.largest, 256, 'a 600-put commit is signed in batches of up to 256 ops')
    assert.ok(written.signatures <= 10, `${written.signatures} signatures for 803 writes`)
    assert.equal(written.miscounted, 0, 'each batch counts the rows that still need it')

    // charlie knows only bob, so everything alice wrote reaches it relayed, in subsets
    const charlie = await cluster.start('charlie', { peers: [await bob.addr()], ...fast })
    await cluster.converged([alice, bob, charlie], 597)
    // the batch tables agree once each node has collected the superseded ops every member holds
    const same = (a: Picture, b: Picture): boolean => JSON.stringify(a) === JSON.stringify(b)
    await waitFor(() => same(picture(charlie), picture(alice)) && same(picture(bob), picture(alice)), 'the same rows and the same batch table on all three', 20_000)
    const relayed = picture(charlie)
    assert.equal(relayed.miscounted, 0)
    assert.deepEqual(relayed.rows, written.rows, 'the same user rows as the writer')
    const status = await charlie.status()
    assert.equal(status.counters.rejected, 0, 'no op refused')
    assert.deepEqual(status.peerSync.map((p: { name?: string }) => p.name), ['bob'], 'charlie never met alice')
  })
})
