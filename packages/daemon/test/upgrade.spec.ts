/**
 * Upgrading murmurd over a data dir an older one left: the file is brought up
 * to the current schema as it opens (each step in one transaction), with
 * every row and past version as it was, and the node goes on replicating.
 * (A file from a newer murmur, or too old to upgrade: disk.spec.ts. Each
 * migration step on its own, staged snapshot rows included: core's specs.)
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { SCHEMA_VERSION } from '@murmur/core'
import { TestCluster } from './harness.js'

/** Takes a current file back to version 9, as murmur 9 left it: no `snapshot_batch`. */
const TO_VERSION_9 = "DROP TABLE snapshot_batch; UPDATE meta SET value = 9 WHERE name = 'schema_version'"

describe('upgrading over a data dir an older murmurd left', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('a schema 9 file opens at the current schema with every row and past version as it was, and replicates to a new node', async () => {
    assert.equal(SCHEMA_VERSION, 10, 'a new schema version: take the file back to 10 here too')
    const alice = await cluster.start('alice')
    await alice.put('cfg', 'one')
    await alice.put('cfg', 'two')
    assert.equal((await alice.ctl(['put', '--json', 'svc', '{"replicas":3}'])).code, 0)
    await alice.put('gone', 'soon')
    assert.equal((await alice.ctl(['del', 'gone'])).code, 0)
    const rows = alice.userRows()
    const history = await alice.json(['history', 'cfg'])
    assert.equal(await alice.stop(), 0)
    const path = join(alice.dataDir, 'murmur.db')
    const old = new Database(path)
    old.exec(TO_VERSION_9)
    old.close()

    await alice.start()
    const file = new Database(path, { readonly: true })
    try {
      assert.equal(Number(file.prepare("SELECT value FROM meta WHERE name = 'schema_version'").pluck().get()), SCHEMA_VERSION)
      assert.equal(file.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'snapshot_batch'").pluck().get(), 1)
    } finally {
      file.close()
    }
    assert.deepEqual(alice.userRows(), rows, 'every row as it was, the tombstone included')
    assert.deepEqual(await alice.json(['history', 'cfg']), history)
    assert.equal((await alice.ctl(['get', 'svc'])).stdout, '{"replicas":3}\n')
    // it goes on: writes, and a new node takes all of it
    await alice.put('after', 'upgrade')
    const bob = await cluster.start('bob', { peers: [await alice.addr()] })
    await cluster.converged([alice, bob], 3)
    assert.deepEqual(bob.userRows(), alice.userRows())
    assert.equal((await bob.ctl(['get', 'cfg'])).stdout, 'two\n')
  })
})
