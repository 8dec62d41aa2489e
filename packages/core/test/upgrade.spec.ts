/**
 * Opening a file of every older schema this murmur upgrades (4 to 10), as
 * that version held it: every table's rows as they were, the counts, clock,
 * vector, proofs and change cursors right, and the node serving all of it to
 * a new one. A file whose migration failed midway is left as it was and
 * upgrades on the next open; one from a newer murmur is refused untouched.
 * (The files are made by taking a current one back with `UNDO`, whose shape
 * matches each version's own `SCHEMA`; the data holds only what that version
 * could: no type before 5, no expiry before 7, no seen or history before 8,
 * no refresh before 9.)
 */
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { MemoryStore, SCHEMA_VERSION, SqliteStore, StoreVersionError, UpgradeFailedError, nothingSeen, proveOps, type Op, type Replica } from '../src/index.js'
import { Clock, Keys, UNDO, bytes, pull, replicaFactory, rowsOf, tempDir } from './helpers.js'

const dir = tempDir()
const HOUR = 3_600_000

/** Each origin's ops, signed in batches, holding what a file of `version` could. */
function opsFor (version: number, keys: Keys, clock: Clock): Op[] {
  const at = clock.ms
  const typed = version >= 5
  const seen = version >= 8
  const all: Op[][] = []
  const origin = (name: string, ops: Array<Omit<Op, 'origin' | 'seq' | 'logical'>>): void => {
    const made = ops.map((o, i) => ({ ...o, origin: name, seq: i + 1, logical: 0 }) as Op)
    proveOps(made, keys.signer(name))
    all.push(made)
  }
  const first = (name: string): object => (seen ? { seen: nothingSeen(name) } : {})
  origin('alice', [
    { key: 'cfg', value: bytes('one'), wall: at + 1, ...first('alice') },
    { key: 'cfg', value: bytes('two'), wall: at + 2, ...(seen ? { seen: { wall: at + 1, logical: 0, origin: 'alice' } } : {}) },
    { key: 'gone', value: bytes('soon'), wall: at + 3, ...first('alice') },
    { key: 'gone', value: null, wall: at + 4, ...(seen ? { seen: { wall: at + 3, logical: 0, origin: 'alice' } } : {}) },
    ...(typed ? [{ key: 'svc', value: bytes('{"replicas":3}'), type: 'json' as const, wall: at + 5, ...first('alice') }] : []),
    ...(typed ? [{ key: 'bin', value: Uint8Array.of(0, 0xff, 0x80, 10), type: 'binary' as const, wall: at + 6, ...first('alice') }] : []),
    ...(version >= 7 ? [{ key: 'lease', value: bytes('held'), wall: at + 7, expires: at + HOUR, ...first('alice') }] : []),
    ...(version >= 9 ? [{ key: 'lease', value: bytes('held'), wall: at + 8, expires: at + 2 * HOUR, refresh: true as const, seen: { wall: at + 7, logical: 0, origin: 'alice' } }] : [])
  ])
  // bob writes cfg apart from alice and wins: alice's two lose (history, and op_history until all hold them)
  origin('bob', [
    { key: 'cfg', value: bytes('three'), wall: at + 10, ...first('bob') },
    { key: 'b/x', value: bytes('x'), wall: at + 11, ...first('bob') }
  ])
  // a delete of a key carol never held, and a key overwritten within her own batch
  origin('carol', [
    { key: 'never', value: null, wall: at + 12, ...first('carol') },
    { key: 'c/y', value: bytes('y1'), wall: at + 13, ...first('carol') },
    { key: 'c/y', value: bytes('y2'), wall: at + 14, ...(seen ? { seen: { wall: at + 13, logical: 0, origin: 'carol' } } : {}) }
  ])
  return all.flat()
}

/** Every row of every table but `meta`, as plain JSON (blobs as hex): what the upgrade must keep. */
function tables (path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true })
  try {
    const names = db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('meta', 'changes') ORDER BY name").pluck().all()
    return Object.fromEntries(names.map(name => [name, db.prepare(`SELECT * FROM ${name}`).all()
      // a Buffer reaches the replacer as its toJSON(): { type: 'Buffer', data }
      .map(row => JSON.stringify(row, (_, v) => v?.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v)).sort()]))
  } finally {
    db.close()
  }
}

function meta (path: string): Record<string, unknown> {
  const db = new Database(path, { readonly: true })
  try {
    return Object.fromEntries(db.prepare<[], { name: string, value: unknown }>('SELECT name, value FROM meta').all().map(r => [r.name, Number(r.value)]))
  } finally {
    db.close()
  }
}

/** dave, who holds every origin's ops and wrote none of his own; his file taken back to `version`. */
function olderNode (version: number, name = `v${version}`): { path: string, clock: Clock, make: ReturnType<typeof replicaFactory>, dave: Replica, store: SqliteStore } {
  const path = join(dir, `${name}.db`)
  const keys = new Keys()
  const clock = new Clock()
  const store = SqliteStore.open(path, { durability: 'normal' })
  // a store is given to each replica made (SQLite files are opened by the tests, and closed)
  const make = replicaFactory(keys, clock, () => new MemoryStore())
  const dave = make('dave', { store })
  dave.receive(opsFor(version, keys, clock))
  clock.advance(100)
  return { path, clock, make, dave, store }
}

describe('upgrading a file of every older schema', () => {
  for (let version = 4; version < SCHEMA_VERSION; version++) {
    it(`a schema ${version} file opens with every row, past version, proof and cursor as it was, and serves a new node`, () => {
      const { path, clock, make, dave, store } = olderNode(version)
      const rows = rowsOf(store)
      const { vector, counts, history, changes } = { vector: dave.vector(), counts: dave.counts(), history: dave.history('cfg'), changes: store.changes(0, 100) }
      assert.ok(changes.length >= 5 && history.length >= 2, 'cursors and past versions to keep')
      store.close()
      const before = tables(path)
      const metaBefore = meta(path)
      assert.ok((before.op_history?.length ?? 0) >= 2 && (before.op_batch?.length ?? 0) === 3 && (before.version_vector?.length ?? 0) === 3, JSON.stringify(before))
      const older = new Database(path)
      older.exec(`${UNDO[version] as string} UPDATE meta SET value = ${version} WHERE name = 'schema_version'`)
      older.close()

      const reopened = SqliteStore.open(path, { durability: 'normal' })
      const upgraded = make('dave', { store: reopened })
      const after = tables(path)
      assert.deepEqual(Object.keys(after), Object.keys(before), 'every table')
      for (const name of Object.keys(before)) {
        if (name === 'key_history' && version < 8) assert.deepEqual(after[name], [], 'no history before version 8')
        else assert.deepEqual(after[name], before[name], name)
      }
      const metaAfter = meta(path)
      assert.equal(metaAfter.schema_version, SCHEMA_VERSION)
      for (const name of ['clock_wall', 'clock_logical', 'keys', 'tombstones']) assert.equal(metaAfter[name], metaBefore[name], name)
      assert.deepEqual(rowsOf(reopened), rows)
      assert.deepEqual(upgraded.vector(), vector)
      assert.deepEqual(upgraded.counts(), counts)
      assert.deepEqual(upgraded.history('cfg'), version >= 8 ? history : [])
      // before version 6 there were no cursors: a watcher from before gets a snapshot (floor 1)
      assert.deepEqual(reopened.changes(0, 100), version >= 6 ? changes : [])
      if (version < 6) assert.equal(reopened.changeMarks().floor, 1)
      const erinStore = new MemoryStore()
      const erin = make('erin', { store: erinStore })
      pull(erin, upgraded)
      assert.deepEqual(rowsOf(erinStore), rows, 'a new node takes every row, each op proved by its batch')
      assert.deepEqual(erin.vector(), vector)
      clock.advance(3 * HOUR)
      assert.equal(upgraded.get('lease'), undefined, 'an expiry still runs out')
      reopened.close()
    })
  }
})

describe('an upgrade that fails, and a newer file', () => {
  it('a migration that fails at its last step leaves the file as it was, and the next open upgrades it', () => {
    const { path, store } = olderNode(4, 'failed')
    store.close()
    const current = tables(path)
    const older = new Database(path)
    // the last step renumbers kv_store's rows: make that fail, as a full disk or a kill would, after every step before it ran
    older.exec(`${UNDO[4] as string} UPDATE meta SET value = 4 WHERE name = 'schema_version';
      CREATE TRIGGER fail_last_step BEFORE UPDATE ON kv_store BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;`)
    older.close()
    const asOld = tables(path)
    assert.throws(() => SqliteStore.open(path), (err: Error) => err instanceof UpgradeFailedError && err.from === 4 &&
      /from schema version 4 to \d+ failed \(the disk is full\); the file is unchanged/.test(err.message))
    assert.deepEqual(tables(path), asOld, 'every table as version 4 left it')
    assert.equal(meta(path).schema_version, 4)
    const fixed = new Database(path)
    fixed.exec('DROP TRIGGER fail_last_step')
    fixed.close()
    SqliteStore.open(path).close()
    assert.equal(meta(path).schema_version, SCHEMA_VERSION)
    const after = tables(path)
    for (const name of Object.keys(current)) if (name !== 'key_history') assert.deepEqual(after[name], current[name], name)
  })

  it('refuses a schema 12 file, saying a newer murmur wrote it, and leaves it byte for byte', () => {
    const { path, store } = olderNode(10, 'newer')
    store.close()
    const newer = new Database(path)
    newer.exec(`ALTER TABLE kv_store ADD COLUMN later INTEGER; UPDATE meta SET value = ${SCHEMA_VERSION + 1} WHERE name = 'schema_version'`)
    newer.pragma('journal_mode = DELETE')
    newer.close()
    const bytes = readFileSync(path)
    assert.throws(() => SqliteStore.open(path), (err: Error) => err instanceof StoreVersionError &&
      err.message === `${path} has schema version ${SCHEMA_VERSION + 1}; this murmur supports ${SCHEMA_VERSION}: a newer murmur wrote it; run that version or a later one (or restore a backup taken before the upgrade)`)
    assert.ok(readFileSync(path).equals(bytes))
    assert.deepEqual(readdirSync(dir).filter(name => name.startsWith('newer.db')), ['newer.db'], 'no WAL left beside it')
  })
})
