/**
 * The storage primitives, on both stores: rows and history, pages by origin,
 * digests, per-origin marks, transactions that roll back whole, and the
 * SQLite file's own checks.
 */
import assert from 'node:assert/strict'
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { EMPTY_ACC, ForeignDatabaseError, SCHEMA_VERSION, SqliteStore, StoreVersionError, attestationKey, headOf, opDigest, proveOps, type Op, type RowHead, type Store } from '../src/index.js'
import { Keys, UNDO_VERSION_10, olderFile, op, plain, storeFactory, tempDir, type StoreKind } from './helpers.js'

const dir = tempDir()
const keys = new Keys()

/** `op` as the row of its key. */
function put (store: Store, o: Op): void {
  store.put(o, opDigest(o))
}

/** Ops of one origin, seqs from `first`, signed as one batch. */
function batch (origin: string, first: number, entries: Array<[string, string | null]>): Op[] {
  const ops = entries.map(([key, value], i) => op(key, value, { origin, seq: first + i, wall: 10 + first + i }))
  proveOps(ops, keys.signer(origin))
  return ops
}

for (const kind of ['memory', 'sqlite'] as StoreKind[]) {
  const open = storeFactory(kind, dir)

  describe(`${kind} store`, () => {
    it('lists live user rows in UTF-8 order; tombstones and murmur\'s records only when asked; counts only user keys', () => {
      const store = open()
      store.transaction(() => {
        for (const key of ['b', 'a', '\u{1F600}', '\u{E000}', 'ab']) put(store, op(key, 'v', { seq: key.length }))
        put(store, op('dead', null))
        put(store, op(attestationKey('peerA'), 'record'))
      })
      assert.deepEqual(store.rows().map(o => o.key), ['a', 'ab', 'b', '\u{E000}', '\u{1F600}'])
      assert.deepEqual(store.rows({ prefix: 'a' }).map(o => o.key), ['a', 'ab'])
      assert.deepEqual(store.rows({ after: 'ab', limit: 2 }).map(o => o.key), ['b', '\u{E000}'])
      assert.deepEqual(store.rows({ tombstones: true }).map(o => o.key), ['a', 'ab', 'b', 'dead', '\u{E000}', '\u{1F600}'])
      assert.deepEqual(store.rows({ reserved: true, limit: 1 }).map(o => o.key), [attestationKey('peerA')])
      assert.deepEqual(store.counts(), { keys: 5, tombstones: 1 })
    })

    it('reads the rows of many keys at once, as one by one', () => {
      const store = open()
      const keys = ['a', 'quote"d', 'back\\slash', 'tab\tnew\nline', '\u{1F600}', '\u{E000}', 'dead']
      store.transaction(() => { for (const [i, key] of keys.entries()) put(store, op(key, key === 'dead' ? null : 'v', { seq: i + 1 })) })
      const asked = [...keys, 'absent', 'a\u0000b']
      const many = store.rowsAt(asked)
      assert.deepEqual([...many.keys()].sort(), [...keys].sort(), 'every key that has a row, tombstones too, and no other')
      for (const key of keys) {
        const { pastless, bytes, asPast, ...head } = many.get(key) as RowHead
        assert.deepEqual(head, headOf(store.row(key) as Op), key)
        if (asPast !== undefined) assert.deepEqual(plain(asPast), plain(store.row(key)), `${key}: the row as a past version keeps it`)
        assert.equal(bytes, key === 'dead' ? 0 : 1, `${key}: its value's size`)
        assert.equal(pastless, true, `${key}: no past version yet`)
      }
      // a past version, or one trimmed (a floor), and the key's history is no longer empty
      store.transaction(() => { store.past.keepRow('a') })
      store.transaction(() => { store.past.keep(op('quote"d', 'old', { seq: 9, wall: 0 }), new Uint8Array(32)); store.past.trim('quote"d', 0, 0) })
      assert.deepEqual(store.past.list('quote"d', 5), [], 'the version kept was trimmed')
      const after = store.rowsAt(keys)
      assert.deepEqual(keys.filter(key => after.get(key)?.pastless === false), ['a', 'quote"d'])
      // the same rule for keys with no row: past versions or a floor, any key text
      store.transaction(() => {
        store.past.keep(op('rowless', 'old', { seq: 10, wall: 0 }), new Uint8Array(32))
        store.past.keep(op('value', 'old', { seq: 11, wall: 0 }), new Uint8Array(32))
        store.past.keep(op('floored', 'old', { seq: 12, wall: 0 }), new Uint8Array(32))
        store.past.trim('floored', 0, 0)
      })
      assert.deepEqual([...store.past.withPast([...asked, 'rowless', 'value', 'floored', 'new'])].sort(), ['a', 'floored', 'quote"d', 'rowless', 'value'])
      assert.deepEqual([...store.past.withPast([])], [])
    })

    it('keeps a superseded op in history, served with the rows by origin in seq order, with its proof', () => {
      const store = open()
      const [first, second, third] = batch('peerA', 1, [['k', 'one'], ['k', 'two'], ['j', null]]) as [Op, Op, Op]
      store.transaction(() => {
        put(store, first)
        const row = store.row('k') as Op
        store.supersede(headOf(row))
        put(store, second)
        put(store, third)
      })
      assert.equal(store.row('k')?.seq, 2)
      const served = store.opsOf('peerA', 0, 10)
      assert.deepEqual(served.map(o => [o.seq, o.superseded === true]), [[1, true], [2, false], [3, false]])
      assert.deepEqual(served.map(o => Buffer.from(o.proof?.digests ?? []).toString('hex')), served.map(() => Buffer.from(first.proof?.digests ?? []).toString('hex')))
      assert.deepEqual(store.digestsAt('peerA', 1).map(d => Buffer.from(d).toString('hex')), [Buffer.from(opDigest(first)).toString('hex')])
      assert.deepEqual(store.digestsIn('peerA', 0, 3).length, 3)
      assert.deepEqual(store.stampAt('peerA', 2), { wall: second.wall, logical: 0 })
      assert.equal(store.counts().keys, 1)
    })

    it('ends a page after the rest of its last batch and after every version of its last seq', () => {
      const store = open()
      const ops = [...batch('peerA', 1, [['a', '1'], ['b', '2'], ['c', '3']]), ...batch('peerA', 4, [['d', '4'], ['e', '5']])]
      const twin = batch('peerA', 4, [['twin', 'x'], ['f', 'y']])[0] as Op
      store.transaction(() => {
        for (const o of ops) put(store, o)
        store.addHistory(twin, opDigest(twin))
      })
      assert.deepEqual(store.opsOf('peerA', 0, 2).map(o => o.key), ['a', 'b', 'c'])
      assert.deepEqual(store.opsOf('peerA', 3, 1).map(o => o.key).sort(), ['d', 'e', 'twin'])
      assert.deepEqual(store.opsOf('peerA', 5, 10).map(o => o.key), [])
    })

    it('drops history up to a seq and finds old tombstones by origin and seq', () => {
      const store = open()
      const [a1, a2, t] = batch('peerA', 1, [['k', '1'], ['k', '2'], ['gone', null]]) as [Op, Op, Op]
      store.transaction(() => {
        put(store, a2)
        store.addHistory(a1, opDigest(a1))
        put(store, t)
      })
      assert.equal(store.dropHistory('peerA', 0), 0)
      assert.equal(store.dropHistory('peerA', 2), 1)
      assert.deepEqual(store.opsOf('peerA', 0, 10).map(o => o.seq), [2, 3])
      assert.deepEqual(store.tombstones('peerA', 2, 1e9, 1e9), [])
      assert.deepEqual(store.tombstones('peerA', 3, t.wall, t.wall), [])
      const found = store.tombstones('peerA', 3, t.wall + 1, t.wall + 1)
      assert.deepEqual(found.map(plain), [plain(t)])
      store.remove(headOf(found[0] as Op))
      assert.equal(store.row('gone'), undefined)
      assert.deepEqual(store.counts(), { keys: 1, tombstones: 0 })
    })

    it('keeps origins, meta and the clock', () => {
      const store = open()
      const state = { held: { seq: 4, wall: 9, logical: 1, acc: new Uint8Array(32).fill(7) }, floor: { seq: 2, wall: 5, logical: 0, acc: EMPTY_ACC } }
      store.setOrigin('peerA', state)
      store.setMeta('gc_horizon', '5.0')
      store.setClock({ wall: 42, logical: 3 })
      const hex = (o: unknown): unknown => JSON.stringify(o, (k, v) => k === 'acc' ? Buffer.from((v as { data?: number[] }).data ?? Object.values(v as object)).toString('hex') : v)
      assert.equal(hex(store.origins().get('peerA')), hex(state))
      assert.equal(store.meta('gc_horizon'), '5.0')
      assert.equal(store.meta('missing'), undefined)
      assert.deepEqual(store.clock(), { wall: 42, logical: 3 })
    })

    it('rolls a failed transaction back whole: rows, history, origins, meta and counts', () => {
      const store = open()
      const [a, b] = batch('peerA', 1, [['a', '1'], ['b', '2']]) as [Op, Op]
      store.transaction(() => { put(store, a) })
      const before = { rows: store.rows({ tombstones: true, reserved: true }).map(plain), origins: [...store.origins()], counts: store.counts(), clock: store.clock() }
      assert.throws(() => store.transaction(() => {
        const row = store.row('a') as Op
        store.supersede(headOf(row))
        put(store, b)
        put(store, op('c', null, { wall: 999 }))
        store.setOrigin('peerA', { held: { seq: 9, wall: 1, logical: 0, acc: EMPTY_ACC }, floor: { seq: 0, wall: 0, logical: 0, acc: EMPTY_ACC } })
        store.setMeta('x', 'y')
        throw new Error('disk full')
      }), /disk full/)
      assert.deepEqual({ rows: store.rows({ tombstones: true, reserved: true }).map(plain), origins: [...store.origins()], counts: store.counts(), clock: store.clock() }, before)
      assert.equal(store.meta('x'), undefined)
      assert.deepEqual(store.opsOf('peerA', 0, 10).map(o => o.seq), [1])
    })
  })
}

describe('sqlite store file', () => {
  const file = (name: string): string => join(dir, name)

  it('keeps everything across a reopen, and drops a batch\'s digests once none of its ops is held', () => {
    const path = file('reopen.db')
    const ops = batch('peerA', 1, [['a', '1'], ['b', '2']])
    let store: Store = SqliteStore.open(path)
    store.transaction(() => { for (const o of ops) put(store, o) })
    store.close()
    store = SqliteStore.open(path)
    assert.deepEqual(store.opsOf('peerA', 0, 10).map(plain), ops.map(plain))
    const batches = (): number => {
      const db = new Database(path, { readonly: true })
      try { return db.prepare('SELECT count(*) AS n FROM op_batch').get() as unknown as number } finally { db.close() }
    }
    assert.deepEqual(batches(), { n: 1 })
    store.transaction(() => { for (const row of store.rows()) store.remove(headOf(row)) })
    assert.deepEqual(batches(), { n: 0 })
    store.close()
  })

  it('stages a snapshot\'s rows with their batch\'s digests once, and gives them back whole, rows staged by version 9 too', () => {
    const path = file('stage.db')
    const ops = batch('peerA', 1, Array.from({ length: 50 }, (_, i): [string, string] => [`k${String(i).padStart(2, '0')}`, `v${i}`]))
    const old = batch('peerB', 1, [['z', 'old']])[0] as Op
    // a version 9 file with a row staged the old way: its batch's digests in the row
    olderFile(path, [], UNDO_VERSION_10, 9)
    const db = new Database(path)
    db.prepare(`INSERT INTO snapshot_stage (key, value, wall, logical, origin, seq, sig, first, digests, type)
      VALUES ('z', ?, ?, ?, 'peerB', 1, ?, ?, ?, 'text')`).run(old.value, old.wall, old.logical, old.proof?.sig, old.proof?.first, old.proof?.digests)
    db.close()
    const store = SqliteStore.open(path)
    store.stage(ops.slice(0, 30))
    store.stage(ops.slice(30))
    const staged = store.staged(undefined, 100)
    assert.deepEqual(staged.map(plain), [...ops, old].map(plain))
    const proofOf = (o: Op): string[] => [Buffer.from(o.proof?.sig ?? []).toString('hex'), String(o.proof?.first), Buffer.from(o.proof?.digests ?? []).toString('hex')]
    assert.deepEqual(staged.map(proofOf), [...ops, old].map(proofOf), 'every proof whole: signature, first seq and digests')
    const check = new Database(path, { readonly: true })
    assert.deepEqual(check.prepare('SELECT count(*) AS n, sum(length(digests)) AS bytes FROM snapshot_batch').get(), { n: 1, bytes: 50 * 32 }, 'one batch, its digests once')
    assert.equal(check.prepare('SELECT count(*) FROM snapshot_stage WHERE digests IS NOT NULL').pluck().get(), 1, 'only the row staged by version 9')
    assert.equal(Number(check.prepare("SELECT value FROM meta WHERE name = 'schema_version'").pluck().get()), SCHEMA_VERSION)
    check.close()
    store.clearStaged()
    assert.deepEqual(store.staged(undefined, 100), [])
    const after = new Database(path, { readonly: true })
    assert.equal(after.prepare('SELECT count(*) FROM snapshot_batch').pluck().get(), 0)
    after.close()
    store.close()
  })

  it('refuses a file of another schema version and another program\'s database (a damaged file: daemon/test/disk.spec.ts)', () => {
    const old = file('old.db')
    const db = new Database(old)
    db.exec("CREATE TABLE kv_store (key TEXT); CREATE TABLE meta (name TEXT PRIMARY KEY, value); INSERT INTO meta VALUES ('schema_version', 2)")
    db.close()
    assert.throws(() => SqliteStore.open(old), (err: Error) => err instanceof StoreVersionError && new RegExp(`schema version 2; this murmur supports ${SCHEMA_VERSION}`).test(err.message))
    const foreign = file('foreign.db')
    const other = new Database(foreign)
    other.exec('CREATE TABLE users (id INTEGER)')
    other.close()
    assert.throws(() => SqliteStore.open(foreign), ForeignDatabaseError)
    const text = file('text.db')
    writeFileSync(text, 'not a database at all, but long enough to look like a header of sixteen bytes')
    assert.throws(() => SqliteStore.open(text), ForeignDatabaseError)
  })

  it('without checkpoints, a WAL cut back to its length at an fsync leaves what that fsync covered, as a power loss would', () => {
    const path = file('cut.db')
    const store = SqliteStore.open(path, { durability: 'normal', checkpoints: false })
    put(store, op('a', '1'))
    const synced = statSync(`${path}-wal`).size
    put(store, op('b', '2', { seq: 2 }))
    copyFileSync(path, file('cut-copy.db'))
    writeFileSync(file('cut-copy.db-wal'), readFileSync(`${path}-wal`).subarray(0, synced))
    store.close()
    const after = SqliteStore.open(file('cut-copy.db'))
    assert.deepEqual(after.rows().map(o => o.key), ['a'])
    after.close()
  })
})
