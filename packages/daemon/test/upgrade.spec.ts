/**
 * Upgrading murmurd over a data dir an older one left: the file is brought up
 * to the current schema as it opens (each step in one transaction), with
 * every row and past version as it was, and the node goes on replicating:
 * a schema 9 file murmurd wrote, and files of schema 4, 7 and 10 holding two
 * other writers' signed ops (made in-process: murmurd's own writes carry
 * `seen`, which no file before version 8 could hold).
 * (A file from a newer murmur, or too old to upgrade: disk.spec.ts. Each
 * migration step on its own, staged snapshot rows included: core's specs.)
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { mkdirSync, statSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import Database from 'better-sqlite3'
import { Replica, SCHEMA_VERSION, SqliteStore, nothingSeen, opDigest, proveOps, type Op } from '@murmur/core'
import { batchSigner, batchVerifier } from '../src/op-signing.js'
import { TestCluster, waitFor, type TestNode } from './harness.js'
import { startWatch, type WatchEvent } from './watch-client.js'

/**
 * SQL that takes a current file back to each older version, as that murmur
 * left it (core's test helpers' `UNDO`, whose shapes match each version's own
 * schema): version 11 made each key's change cursor its row's rowid (before,
 * a `changes` table, and rowids as SQLite gave them out: here in key order,
 * unrelated to the cursors), 10 added `snapshot_batch`, 9 `refresh`, 8 the
 * `seen` columns and `key_history`, 7 `expires`, 6 `changes`, 5 `type`.
 */
const dropColumns = (...columns: string[]): string => ['kv_store', 'op_history', 'snapshot_stage'].flatMap(table => columns.map(column => `ALTER TABLE ${table} DROP COLUMN ${column};`)).join(' ')
const TO_VERSION: Record<number, string> = {}
TO_VERSION[10] = `CREATE TABLE changes (key TEXT PRIMARY KEY NOT NULL, cursor INTEGER NOT NULL UNIQUE);
  INSERT INTO changes (key, cursor) SELECT key, rowid FROM kv_store WHERE rowid > 0;
  UPDATE kv_store SET rowid = -rowid;
  UPDATE kv_store SET rowid = n FROM (SELECT key AS k, row_number() OVER (ORDER BY key) AS n FROM kv_store) WHERE k = key;`
TO_VERSION[9] = `${TO_VERSION[10]} DROP TABLE snapshot_batch;`
TO_VERSION[7] = `${TO_VERSION[9]} ${dropColumns('refresh', 'seen_wall', 'seen_logical', 'seen_origin')} DROP TABLE key_history; DROP TABLE key_history_floor;`
TO_VERSION[4] = `${TO_VERSION[7]} DROP INDEX kv_store_expires; ${dropColumns('expires', 'type')} DROP TABLE changes; DELETE FROM meta WHERE name IN ('change_cursor', 'change_floor');`

/** Takes the file at `path` back to `version`. */
function olderFile (path: string, version: number): void {
  const db = new Database(path)
  try {
    db.exec(`${TO_VERSION[version] as string} UPDATE meta SET value = ${version} WHERE name = 'schema_version'`)
  } finally {
    db.close()
  }
}

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
    olderFile(path, 9)

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

const GROUP = 'upgrades'
const HOUR = 3_600_000

/**
 * Two writers' ops, signed as murmurd signs them, holding what a file of
 * `version` could: no type before 5, no expiry before 7, no seen before 8.
 * alice writes cfg twice and bob's later cfg wins (both of alice's go to
 * op_history); gone is put then deleted; bob deletes a key he never had.
 */
async function writersOps (version: number): Promise<Op[]> {
  const at = Date.now() - 60_000
  const ops: Op[] = []
  for (const [name, writes] of Object.entries({
    alice: [['cfg', 'one'], ['cfg', 'two'], ['gone', 'soon'], ['gone', null], ['svc', '{"replicas":3}', 'json'], ['bin', '\u0000\u00ff', 'binary'], ['lease', 'held', 'ttl']],
    bob: [['cfg', 'three'], ['never', null], ['b/x', 'x']]
  })) {
    const key = await generateKeyPair('Ed25519')
    const origin = peerIdFromPrivateKey(key).toString()
    const held = new Map<string, Op>()
    const made: Op[] = []
    for (const [k, value, kind] of writes as Array<[string, string | null, string?]>) {
      if ((kind === 'json' || kind === 'binary') && version < 5) continue
      if (kind === 'ttl' && version < 7) continue
      const before = held.get(k)
      const op: Op = {
        key: k, value: value === null ? null : Buffer.from(value, kind === 'binary' ? 'latin1' : 'utf8'), wall: at + ops.length + made.length, logical: 0, origin, seq: made.length + 1,
        ...(kind === 'json' || kind === 'binary' ? { type: kind } : {}),
        ...(kind === 'ttl' ? { expires: at + HOUR } : {}),
        ...(version >= 8 ? { seen: before === undefined ? nothingSeen(origin) : { wall: before.wall, logical: 0, origin } } : {})
      }
      held.set(k, op)
      made.push(op)
    }
    proveOps(made, batchSigner(key, GROUP))
    ops.push(...made)
  }
  return ops
}

/**
 * The writers' rows, every column, from the file: their keys' rows (tombstones
 * included), their superseded ops, batches and vector entries. A running
 * node's own attestation, batch and vector entry are left out.
 */
function writersRows (node: TestNode, ops: Op[]): Record<string, unknown[]> {
  const db = new Database(join(node.dataDir, 'murmur.db'), { readonly: true })
  try {
    const origins = JSON.stringify([...new Set(ops.map(op => op.origin))])
    const sigs = [...new Set(ops.map(op => Buffer.from(op.proof?.sig ?? []).toString('hex')))]
    const read = (sql: string): unknown[] => db.prepare(sql).all(origins)
    return {
      kv_store: read('SELECT * FROM kv_store WHERE origin IN (SELECT value FROM json_each(?)) ORDER BY key'),
      op_history: read('SELECT * FROM op_history WHERE origin IN (SELECT value FROM json_each(?)) ORDER BY origin, seq'),
      version_vector: read('SELECT * FROM version_vector WHERE origin IN (SELECT value FROM json_each(?)) ORDER BY origin'),
      op_batch: (db.prepare('SELECT * FROM op_batch ORDER BY sig').all() as Array<{ sig: Buffer }>).filter(row => sigs.includes(row.sig.toString('hex')))
    }
  } finally {
    db.close()
  }
}

/** A digest of every user key's kv_store row, the columns a schema 4 file holds (rows too many for a readable diff). */
function digestOfRows (path: string): string {
  const db = new Database(path, { readonly: true })
  try {
    const hash = createHash('sha256')
    for (const row of db.prepare('SELECT key, value, wall, logical, origin, seq, sig, digest FROM kv_store WHERE key >= char(1) ORDER BY key').raw().iterate()) hash.update(JSON.stringify(row))
    return hash.digest('hex')
  } finally {
    db.close()
  }
}

describe('upgrading murmurd over a data dir of schema 4, 7 and 10', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  for (const version of [4, 7, 10]) {
    it(`a schema ${version} file opens with every row, proof and count, and a fresh node syncs to an identical replica`, async () => {
      const node = cluster.node(`v${version}`)
      mkdirSync(node.dataDir, { mode: 0o700 })
      const path = join(node.dataDir, 'murmur.db')
      const store = SqliteStore.open(path)
      const maker = new Replica({ store, nodeId: 'maker', now: Date.now, sign: () => { throw new Error('the maker writes nothing') }, verify: batchVerifier(GROUP) })
      const ops = await writersOps(version)
      maker.receive(ops)
      store.close()
      const before = writersRows(node, ops)
      assert.equal(before.op_history?.length, 3, 'alice\'s cfg one and two (bob\'s won) and gone\'s put, each until every member holds its successor')
      olderFile(path, version)

      await node.start({ group: GROUP })
      const file = new Database(path, { readonly: true })
      try {
        assert.equal(Number(file.prepare("SELECT value FROM meta WHERE name = 'schema_version'").pluck().get()), SCHEMA_VERSION)
      } finally {
        file.close()
      }
      assert.deepEqual(writersRows(node, ops), before)
      assert.equal((await node.ctl(['get', 'cfg'])).stdout, 'three\n')
      assert.equal((await node.ctl(['get', 'gone'])).code, 4)
      assert.equal((await node.ctl(['get', 'svc'])).stdout, version >= 5 ? '{"replicas":3}\n' : '')
      if (version >= 7) assert.equal((await node.ctl(['get', 'lease'])).stdout, 'held\n')
      const keys = version >= 7 ? ['b/x', 'bin', 'cfg', 'lease', 'svc'] : version >= 5 ? ['b/x', 'bin', 'cfg', 'svc'] : ['b/x', 'cfg']
      assert.deepEqual((await node.list()).split('\n').filter(line => line !== '').map(line => line.split(' = ')[0]), keys)
      // no history before version 8: the key shows only its current version; from 8, alice's two as well
      const history = await node.json(['history', 'cfg'])
      assert.equal(history.versions.length, version >= 8 ? 3 : 1, JSON.stringify(history))
      assert.match(JSON.stringify(history.versions[0]), /three/)
      const status = await node.status()
      assert.equal(status.keys, keys.length)
      assert.equal(status.tombstones, 2)
      for (const origin of new Set(ops.map(op => op.origin))) assert.equal(status.versionVector[origin], ops.filter(op => op.origin === origin).length)

      const fresh = await cluster.start(`fresh${version}`, { group: GROUP, peers: [await node.addr()] })
      await cluster.converged([node, fresh], keys.length, 30_000)
      const rows = writersRows(node, ops).kv_store
      await waitFor(() => JSON.stringify(writersRows(fresh, ops).kv_store) === JSON.stringify(rows), 'identical kv_store rows, tombstones included', 30_000)
      assert.equal(await fresh.stop(), 0)
      assert.equal(await node.stop(), 0)
    })
  }

  it('murmurd killed while it upgrades a large schema 4 file leaves it at schema 4, and the next start upgrades it', async () => {
    const node = cluster.node('killed')
    mkdirSync(node.dataDir, { mode: 0o700 })
    const path = join(node.dataDir, 'murmur.db')
    const key = await generateKeyPair('Ed25519')
    const origin = peerIdFromPrivateKey(key).toString()
    const at = Date.now() - 60_000
    const ops: Op[] = Array.from({ length: 100_000 }, (_, i) => ({ key: `k/${String(i).padStart(6, '0')}`, value: Buffer.alloc(16, i % 251), wall: at + i, logical: 0, origin, seq: i + 1 }))
    proveOps(ops, batchSigner(key, GROUP))
    const store = SqliteStore.open(path, { durability: 'normal' })
    store.transaction(() => { for (const op of ops) store.put(op, opDigest(op)) })
    store.close()
    olderFile(path, 4)
    const before = digestOfRows(path)

    // the last step rewrites every row's rowid: once its pages spill into the WAL, the one transaction is under way
    const starting = node.start({ group: GROUP })
    starting.catch(() => {})
    await waitFor(() => (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0) > 4 * 2 ** 20, 'the migration to write to the WAL', 60_000, 5)
    await node.stop('SIGKILL')
    await assert.rejects(starting)
    const killed = new Database(path, { readonly: true })
    try {
      assert.equal(Number(killed.prepare("SELECT value FROM meta WHERE name = 'schema_version'").pluck().get()), 4, 'nothing of the upgrade committed')
      assert.equal(killed.prepare('SELECT count(*) FROM kv_store').pluck().get(), ops.length)
    } finally {
      killed.close()
    }

    await node.start({ group: GROUP })
    assert.equal(digestOfRows(path), before, 'every row as it was')
    assert.equal((await node.status()).keys, ops.length)
    assert.equal((await node.ctl(['get', 'k/099999'])).stdout.length, 17)
    assert.equal(await node.stop(), 0)
  })
})
