/** Change cursors: every change of a user key gets the next local number, kept with the key until its row goes. */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { MemoryStore, SqliteStore, attestationKey, headOf, opDigest, type Op, type Store } from '../src/index.js'
import { UNDO_VERSION_11, UNDO_VERSION_6, op, storeFactory, tempDir } from './helpers.js'

const dir = tempDir()
const batchDir = tempDir()
const put = (store: Store, written: Op): void => { store.put(written, opDigest(written)) }
const cursors = (store: Store, after = 0): Array<[number, string, string | null]> =>
  store.changes(after, 100).map(({ cursor, op }) => [cursor, op.key, op.value === null ? null : Buffer.from(op.value).toString()])

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`change cursors (${kind} store)`, () => {
    const open = storeFactory(kind, dir)

    it('numbers each change in commit order and keeps only a key\'s latest', () => {
      const store = open()
      const a1 = op('a', '1', { seq: 1 })
      put(store, a1)
      put(store, op('b', '1', { seq: 2 }))
      put(store, op(attestationKey('x'), 'record', { seq: 3 }))
      const a2 = op('a', '2', { seq: 4 })
      store.transaction(() => { store.remove(headOf(a1)); put(store, a2) })
      assert.deepEqual(cursors(store), [[2, 'b', '1'], [4, 'a', '2']], 'murmur\'s own records get no cursor')
      assert.deepEqual(cursors(store, 2), [[4, 'a', '2']])
      assert.equal(store.cursorOf(a1), 1)
      assert.equal(store.cursorOf(a2), 4)
      assert.deepEqual(store.changeMarks(), { latest: 4, floor: 3 }, 'a live row removed is a change, and what a watcher needed before it may be gone')
    })

    it('a collected tombstone takes its entry and lifts the floor to it; a rolled-back transaction leaves the cursors as they were', () => {
      const store = open()
      put(store, op('a', '1', { seq: 1 }))
      const gone = op('a', null, { seq: 2 })
      put(store, gone)
      put(store, op('b', '1', { seq: 3 }))
      assert.deepEqual(cursors(store), [[2, 'a', null], [3, 'b', '1']])
      store.remove(headOf(gone))
      assert.deepEqual(store.changeMarks(), { latest: 3, floor: 2 })
      assert.deepEqual(cursors(store), [[3, 'b', '1']])
      assert.throws(() => store.transaction(() => { put(store, op('c', '1', { seq: 4 })); throw new Error('abort') }), /abort/)
      assert.deepEqual(store.changeMarks(), { latest: 3, floor: 2 })
      assert.deepEqual(cursors(store), [[3, 'b', '1']])
      put(store, op('c', '1', { seq: 4 }))
      assert.deepEqual(cursors(store, 3), [[4, 'c', '1']], 'the number the rolled-back change took is given again')
    })

    it('replays, for any sequence of writes, each key changed after any cursor once, in its latest state', () => {
      fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.option(fc.string({ maxLength: 3 }), { nil: null })), { minLength: 1, maxLength: 30 }), fc.nat(30), (writes, from) => {
        const store = open()
        const log: Array<[string, string | null]> = []
        writes.forEach(([key, value], i) => { put(store, op(key, value, { seq: i + 1 })); log.push([key, value]) })
        const after = Math.min(from, writes.length)
        const expected = new Map<string, [number, string | null]>()
        log.forEach(([key, value], i) => { if (i + 1 > after) expected.set(key, [i + 1, value]); else expected.delete(key) })
        const latest = new Map<string, number>()
        log.forEach(([key], i) => latest.set(key, i + 1))
        const want = [...expected].filter(([key, [cursor]]) => latest.get(key) === cursor).map(([key, [cursor, value]]) => [cursor, key, value]).sort((x, y) => (x[0] as number) - (y[0] as number))
        assert.deepEqual(cursors(store, after), want)
        store.close()
      }), { numRuns: kind === 'sqlite' ? 50 : 200 })
    })
  })
}

describe('change cursors in the SQLite file', () => {
  it('a transaction of many changes (written in one statement as it commits) leaves what the in-memory store does, rolled back or not', () => {
    type Step = [key: string, value: string | null, remove: boolean]
    const step = fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'), fc.option(fc.constantFrom('1', '2'), { nil: null }), fc.boolean())
    const transaction = fc.record({ steps: fc.array(step, { minLength: 1, maxLength: 24 }), abort: fc.boolean() })
    const openSqlite = storeFactory('sqlite', batchDir)
    fc.assert(fc.property(fc.array(transaction, { minLength: 1, maxLength: 6 }), fc.nat(60), (transactions, from) => {
      const stores = [new MemoryStore(), openSqlite()]
      let seq = 0
      for (const { steps, abort } of transactions) {
        const numbered = steps.map(([key, value, remove]): [Step, number] => [[key, value, remove], ++seq])
        for (const store of stores) {
          const run = (): void => {
            for (const [[key, value, remove], at] of numbered) {
              const row = store.row(key)
              if (remove && row !== undefined) store.remove(headOf(row))
              else put(store, op(key, value, { seq: at }))
            }
            if (abort) throw new Error('abort')
          }
          if (abort) assert.throws(() => store.transaction(run), /abort/)
          else store.transaction(run)
        }
      }
      const [memory, sqlite] = stores as [Store, Store]
      assert.deepEqual(cursors(sqlite, from), cursors(memory, from))
      assert.deepEqual(sqlite.changeMarks(), memory.changeMarks())
      for (const store of stores) store.close()
    }), {
      numRuns: 100,
      // a tombstone written and collected in one transaction lifts the floor to its own cursor, not to the key's earlier one
      examples: [[[{ steps: [['a', '1', false]], abort: false }, { steps: [['a', null, false], ['a', null, true]], abort: false }], 0]]
    })
  })

  it('a version 10 file keeps each key\'s cursor (its rows renumbered, whatever their rowids were); murmur\'s own records stay unnumbered', () => {
    const path = join(dir, 'version-10.db')
    const store = SqliteStore.open(path)
    for (const [i, key] of ['a', 'b', 'c'].entries()) put(store, op(key, '1', { seq: i + 1 }))
    put(store, op(attestationKey('x'), 'record', { seq: 4 }))
    put(store, op('a', '2', { seq: 5 }))
    const before = cursors(store)
    assert.deepEqual(before, [[2, 'b', '1'], [3, 'c', '1'], [4, 'a', '2']])
    store.close()
    const db = new Database(path)
    db.exec(`${UNDO_VERSION_11} UPDATE meta SET value = 10 WHERE name = 'schema_version'`)
    // rowids 1-4 now, in key order: the record first, 'a' (cursor 4) at 2, 'c' (cursor 3) at 4
    assert.deepEqual(db.prepare<[], [number, string]>('SELECT rowid, key FROM kv_store ORDER BY rowid').raw().all().map(([id, key]) => [id, (key as string).replace(/\0.*/, 'record')]),
      [[1, 'record'], [2, 'a'], [3, 'b'], [4, 'c']])
    db.close()
    const migrated = SqliteStore.open(path)
    assert.deepEqual(cursors(migrated), before)
    assert.deepEqual(migrated.changeMarks(), { latest: 4, floor: 0 })
    put(migrated, op('a', '3', { seq: 6 }))
    put(migrated, op(attestationKey('x'), 'record 2', { seq: 7 }))
    put(migrated, op('d', '1', { seq: 8 }))
    assert.deepEqual(cursors(migrated, 2), [[3, 'c', '1'], [5, 'a', '3'], [6, 'd', '1']])
    assert.equal(migrated.rows({ reserved: true }).length, 5, 'every row kept, the record too')
    migrated.close()
  })

  it('a file rebuilt from .dump (every row numbered anew) replays nothing by its old cursors, once: a resuming watcher gets the current state', () => {
    const path = join(dir, 'dumped.db')
    const store = SqliteStore.open(path)
    put(store, op('a', '1', { seq: 1 }))
    put(store, op('b', '1', { seq: 2 }))
    put(store, op(attestationKey('x'), 'record', { seq: 3 }))
    put(store, op('a', '2', { seq: 4 }))
    store.close()
    const reopened = SqliteStore.open(path)
    assert.deepEqual(reopened.changeMarks(), { latest: 3, floor: 0 }, 'an ordinary restart keeps the numbering')
    assert.deepEqual(cursors(reopened, 2), [[3, 'a', '2']])
    reopened.close()
    // what the sqlite3 shell's .dump and a rebuild from it do: the schema, then every row in rowid order, without its rowid
    const rebuilt = join(dir, 'rebuilt.db')
    const db = new Database(rebuilt)
    db.exec(`ATTACH '${path}' AS old`)
    const objects = db.prepare<[], { type: string, name: string, sql: string }>("SELECT type, name, sql FROM old.sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'").all()
    for (const { sql } of objects.filter(o => o.type === 'table')) db.exec(sql)
    for (const { name } of objects.filter(o => o.type === 'table')) db.exec(`INSERT INTO main."${name}" SELECT * FROM old."${name}" WHERE 1`) // a WHERE: no transfer optimisation, which would copy the rowids
    for (const { sql } of objects.filter(o => o.type !== 'table')) db.exec(sql)
    db.exec('DETACH old')
    // the record was below zero and 'a' at 3: now 1 and 3, and 'b' at 2 as before, so cursor 2 would replay 'a' by chance and cursor 3 nothing
    assert.deepEqual(db.prepare<[], [number, string]>('SELECT rowid, key FROM kv_store ORDER BY rowid').raw().all().map(([id, key]) => [id, (key as string).replace(/\0.*/, 'record')]),
      [[1, 'record'], [2, 'b'], [3, 'a']])
    db.close()
    const mended = SqliteStore.open(rebuilt)
    const { latest, floor } = mended.changeMarks()
    assert.ok(floor === latest && latest > 2 ** 40, `numbering restarts above every cursor given, with nothing to replay below it: ${latest}, ${floor}`)
    assert.equal(mended.rows({ reserved: true }).length, 3, 'every row kept, the record too')
    put(mended, op('c', '1', { seq: 5 }))
    assert.deepEqual(cursors(mended, floor), [[latest + 1, 'c', '1']])
    mended.close()
    const raw = new Database(rebuilt)
    assert.ok((raw.prepare<[], number>('SELECT rowid FROM kv_store WHERE key < char(1)').pluck().get() ?? 1) <= 0, 'the record is below zero again')
    raw.close()
    const again = SqliteStore.open(rebuilt)
    assert.deepEqual(again.changeMarks(), { latest: latest + 1, floor }, 'mended once: a restart after it keeps the numbering')
    again.close()
  })

  it('a file whose own record lost its key to a copy through text (the sqlite3 shell writes U+0000 keys as \'\') is refused as damaged, unchanged', () => {
    const path = join(dir, 'cut.db')
    const store = SqliteStore.open(path)
    put(store, op('a', '1', { seq: 1 }))
    put(store, op(attestationKey('x'), 'record', { seq: 2 }))
    store.close()
    const db = new Database(path)
    db.prepare("UPDATE kv_store SET key = '' WHERE key < char(1) AND key <> ''").run()
    const before = db.prepare('SELECT rowid, * FROM kv_store ORDER BY key').raw().all()
    db.close()
    assert.throws(() => SqliteStore.open(path), (err: Error) => err.name === 'DamagedDatabaseError' && /empty key.*U\+0000.*\.dump/.test(err.message) && /restore it from a backup/.test(err.message))
    const after = new Database(path, { readonly: true })
    assert.deepEqual(after.prepare('SELECT rowid, * FROM kv_store ORDER BY key').raw().all(), before, 'nothing written')
    after.close()
  })

  /** A file at `path` holding 'a' and 'b', written in that order. */
  const twoKeys = (path: string): void => {
    const store = SqliteStore.open(path)
    put(store, op('a', '1', { seq: 1 }))
    put(store, op('b', '1', { seq: 2 }))
    store.close()
  }

  /** Opens `path` after setting `meta`'s latest cursor to 0, behind the two cursors it gave: it must go on from 2. */
  const openBehind = (path: string): SqliteStore => {
    const db = new Database(path)
    db.exec("UPDATE meta SET value = 0 WHERE name = 'change_cursor'")
    db.close()
    const again = SqliteStore.open(path)
    assert.equal(again.changeMarks().latest, 2)
    return again
  }

  it('go on above every row\'s cursor even when meta says less (a cursor given twice would fail every write after)', () => {
    const path = join(dir, 'behind.db')
    twoKeys(path)
    const again = openBehind(path)
    put(again, op('c', '1', { seq: 3 }))
    assert.deepEqual(cursors(again), [[1, 'a', '1'], [2, 'b', '1'], [3, 'c', '1']])
    again.close()
  })

  it('go on above every conflict\'s cursor too when meta says less (a cursor naming a conflict and a row would hide the row from a watcher resuming there)', () => {
    const path = join(dir, 'conflict-behind.db')
    const store = SqliteStore.open(path)
    put(store, op('a', '1', { seq: 1 }))
    const lost = op('a', '0', { seq: 2, wall: 0 })
    assert.equal(store.past.keep(lost, opDigest(lost), true)?.conflict, 2)
    store.close()
    const again = openBehind(path)
    put(again, op('b', '1', { seq: 3 }))
    assert.deepEqual(cursors(again), [[1, 'a', '1'], [3, 'b', '1']])
    assert.deepEqual(again.past.conflictsAfter(0, 10).map(past => past.conflict), [2])
    again.close()
  })

  it('survive a restart; a restored copy numbers anew; a version 5 file opens with a floor that sends old watchers to a snapshot', () => {
    const path = join(dir, 'cursors.db')
    twoKeys(path)
    const again = SqliteStore.open(path)
    assert.deepEqual(again.changeMarks(), { latest: 2, floor: 0 })
    assert.deepEqual(cursors(again, 1), [[2, 'b', '1']])
    again.close()
    const restored = SqliteStore.open(path)
    restored.restartChanges()
    const { latest, floor } = restored.changeMarks()
    assert.ok(floor === latest && latest > 2 ** 40, 'a restored copy replays nothing from before')
    restored.close()
    const reopened = SqliteStore.open(path)
    assert.deepEqual(reopened.changeMarks(), { latest, floor }, 'and says so after a restart')
    reopened.close()
    const db = new Database(path)
    db.exec(`${UNDO_VERSION_6} UPDATE meta SET value = 5 WHERE name = 'schema_version'`)
    db.close()
    const migrated = SqliteStore.open(path)
    assert.deepEqual(migrated.changeMarks(), { latest: 1, floor: 1 })
    put(migrated, op('c', '1', { seq: 3 }))
    assert.deepEqual(cursors(migrated, 1), [[2, 'c', '1']])
    migrated.close()
  })
})

