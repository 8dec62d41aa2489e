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
import { TestCluster, waitFor } from './harness.js'
import { startWatch, type WatchEvent } from './watch-client.js'

/**
 * Takes a current file back to version 9, as murmur 9 left it: each key's
 * change cursor in a `changes` table (version 11 made it the row's rowid),
 * rowids as SQLite gave them out (here in key order, unrelated to the
 * cursors), and no `snapshot_batch` (version 10).
 */
const TO_VERSION_9 = `CREATE TABLE changes (key TEXT PRIMARY KEY NOT NULL, cursor INTEGER NOT NULL UNIQUE);
  INSERT INTO changes (key, cursor) SELECT key, rowid FROM kv_store WHERE rowid > 0;
  UPDATE kv_store SET rowid = -rowid;
  UPDATE kv_store SET rowid = (SELECT count(*) FROM kv_store k WHERE k.key <= kv_store.key);
  DROP TABLE snapshot_batch; UPDATE meta SET value = 9 WHERE name = 'schema_version'`

/** What `murmurctl watch --since <since>` replays before it is ready: each change's type, key and cursor. */
async function replayed (node: Parameters<typeof startWatch>[0], since: number): Promise<string[]> {
  const watch = startWatch(node, ['--since', String(since)])
  try {
    await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watch to be ready')
    return watch.events().filter((e: WatchEvent) => e.key !== undefined).map(e => `${e.type} ${e.key ?? ''} ${String(e.cursor)}`)
  } finally {
    assert.equal(await watch.stop(), 0)
  }
}

describe('upgrading over a data dir an older murmurd left', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('a schema 9 file opens at the current schema with every row and past version as it was, and replicates to a new node', async () => {
    assert.equal(SCHEMA_VERSION, 11, 'a new schema version: take the file back to 11 here too')
    const alice = await cluster.start('alice')
    await alice.put('cfg', 'one')
    await alice.put('cfg', 'two')
    assert.equal((await alice.ctl(['put', '--json', 'svc', '{"replicas":3}'])).code, 0)
    await alice.put('gone', 'soon')
    assert.equal((await alice.ctl(['del', 'gone'])).code, 0)
    const rows = alice.userRows()
    const history = await alice.json(['history', 'cfg'])
    // a watch resumes across the upgrade from the cursors it had: everything, and what came after cfg's change
    const changes = await replayed(alice, 0)
    const afterCfg = Number(changes.find(change => change.startsWith('put cfg '))?.split(' ')[2])
    assert.deepEqual(changes.map(change => change.split(' ').slice(0, 2).join(' ')), ['put cfg', 'put svc', 'delete gone'], changes.join(', '))
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
    assert.deepEqual(await replayed(alice, 0), changes, 'every key with the cursor it had')
    assert.deepEqual(await replayed(alice, afterCfg), changes.slice(1))
    // it goes on: writes, and a new node takes all of it
    await alice.put('after', 'upgrade')
    const bob = await cluster.start('bob', { peers: [await alice.addr()] })
    await cluster.converged([alice, bob], 3)
    assert.deepEqual(bob.userRows(), alice.userRows())
    assert.equal((await bob.ctl(['get', 'cfg'])).stdout, 'two\n')
  })
})
