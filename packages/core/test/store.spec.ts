import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { ForeignDatabaseError, MAX_BATCH_OPS, SqliteStore, StoreVersionError, proofPayload, proofProblem, proveOps, type MissingCursor, type Op } from '../src/index.js'
import { op, plain, storeFactory, tempDir, type StoreKind } from './helpers.js'

const dir = tempDir()

/** Keys whose UTF-8 order differs from JS string order: U+E000 sorts below an emoji in UTF-8, above it in UTF-16. */
const KEYS = ['a', 'ab', 'ab\u{E000}', 'ab\u{1F600}', 'abc', 'b', 'é', 'éa', '\u{E000}', '\u{1F600}', '\u{1F600}x', 'z']

function keysOf (ops: Op[]): string[] {
  return ops.map(o => o.key)
}

function utf8Sorted (keys: string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
}

for (const kind of ['memory', 'sqlite'] as StoreKind[]) {
  describe(`${kind} store`, () => {
    const open = storeFactory(kind, dir)

    it('keeps the newest op per key and returns the ops that changed a key, in input order', () => {
      const store = open()
      const older = op('k', 'old', { wall: 5 })
      const newer = op('k', 'new', { wall: 6, seq: 2 })
      const other = op('j', 'j', { wall: 1, seq: 3 })
      assert.deepEqual(store.apply([newer, older, other, newer]), [newer, other])
      assert.deepEqual(plain(store.get('k')), plain(newer))
      assert.equal(store.get('missing'), undefined)
    })

    it('breaks equal stamps by origin, then seq', () => {
      const store = open()
      store.apply([op('k', 'b', { origin: 'peer-b' }), op('k', 'a', { origin: 'peer-a', seq: 9 })])
      assert.equal(store.get('k')?.origin, 'peer-b')
    })

    it('keeps tombstones, counts them apart, and lists only live keys', () => {
      const store = open()
      store.apply([op('a', 'x', { seq: 1 }), op('b', 'y', { seq: 2 }), op('c', '', { seq: 3 }), op('a', null, { wall: 2, seq: 4 })])
      assert.equal(store.get('a')?.value, null)
      assert.deepEqual(store.counts(), { keys: 2, tombstones: 1 })
      assert.deepEqual(keysOf(store.list()), ['b', 'c'])
      assert.equal(store.get('c')?.value?.length, 0)
    })

    it('raises the clock to the highest stamp applied, whether or not the op won', () => {
      const store = open()
      assert.deepEqual(store.clock(), { wall: 0, logical: 0 })
      store.apply([op('k', 'v', { wall: 10, logical: 2, origin: 'z' })])
      store.apply([op('k', 'v', { wall: 10, logical: 2, origin: 'a' }), op('j', 'v', { wall: 3, seq: 2 })])
      assert.deepEqual(store.clock(), { wall: 10, logical: 2 })
    })

    it('stores a copy of each value', () => {
      const store = open()
      const value = Uint8Array.of(1, 2, 3)
      store.apply([{ ...op('k', null), value }])
      value.fill(0)
      assert.deepEqual([...store.get('k')?.value ?? []], [1, 2, 3])
    })

    describe('list', () => {
      const store = open()
      store.apply(KEYS.map((key, i) => op(key, key, { seq: i + 1 })))
      store.apply([op('ab\u{FFFF}', null, { seq: KEYS.length + 1 })])

      it('sorts by UTF-8 bytes', () => {
        assert.deepEqual(keysOf(store.list()), utf8Sorted(KEYS))
      })

      it('selects by prefix, including multi-byte and supplementary characters', () => {
        assert.deepEqual(keysOf(store.list({ prefix: 'ab' })), utf8Sorted(['ab', 'ab\u{E000}', 'ab\u{1F600}', 'abc']))
        assert.deepEqual(keysOf(store.list({ prefix: '\u{1F600}' })), ['\u{1F600}', '\u{1F600}x'])
        assert.deepEqual(keysOf(store.list({ prefix: 'é' })), ['é', 'éa'])
        assert.deepEqual(keysOf(store.list({ prefix: 'zz' })), [])
      })

      it('pages with after and limit', () => {
        const pages: string[][] = []
        for (let after: string | undefined, page: Op[]; (page = store.list({ prefix: 'a', after, limit: 2 })).length > 0; after = page.at(-1)?.key) {
          pages.push(keysOf(page))
        }
        assert.deepEqual(pages, [['a', 'ab'], ['abc', 'ab\u{E000}'], ['ab\u{1F600}']])
      })

      it('treats an after below the prefix as the prefix, and one past it as the end', () => {
        assert.deepEqual(keysOf(store.list({ prefix: 'é', after: 'a' })), ['é', 'éa'])
        assert.deepEqual(keysOf(store.list({ prefix: 'ab', after: 'b' })), [])
        assert.deepEqual(keysOf(store.list({ after: '\u{E000}' })), ['\u{1F600}', '\u{1F600}x'])
      })
    })

    describe('missing', () => {
      const store = open()
      const ops = [
        ...[1, 2, 3, 4, 5].map(seq => op(`a${seq}`, 'v', { origin: 'A', seq })),
        ...[1, 2, 3].map(seq => op(`b${seq}`, 'v', { origin: 'B', seq })),
        ...[1, 2].map(seq => op(`c${seq}`, 'v', { origin: 'C', seq })),
        op('constructor', 'v', { origin: 'constructor', seq: 1 })
      ]
      store.apply(ops)
      store.apply([op('a4', 'overwritten', { origin: 'B', seq: 4, wall: 9 })])

      it('returns the ops above their vector, by origin then seq, skipping ops that lost', () => {
        const page = store.missing({ A: 2, C: 5 }, { limit: 100 })
        assert.deepEqual(page.ops.map(o => `${o.origin}${o.seq}`), ['A3', 'A5', 'B1', 'B2', 'B3', 'B4', 'constructor1'])
        assert.equal(page.next, undefined)
      })

      it('pages with a cursor', () => {
        const pages: string[][] = []
        for (let cursor: MissingCursor | undefined, page; pages.length < 5; cursor = page.next) {
          page = store.missing({ A: 2 }, { limit: 3, cursor })
          pages.push(page.ops.map(o => `${o.origin}${o.seq}`))
          if (page.next === undefined) break
        }
        assert.deepEqual(pages, [['A3', 'A5', 'B1'], ['B2', 'B3', 'B4'], ['C1', 'C2', 'constructor1'], []])
      })

      it('returns nothing to a peer that has everything', () => {
        assert.deepEqual(store.missing(store.vector(), { limit: 10 }), { ops: [] })
      })
    })

    describe('vector', () => {
      it('holds the contiguous prefix and advances when a gap fills', () => {
        const store = open()
        store.apply([1, 2, 4, 5, 7].map(seq => op(`k${seq}`, 'v', { origin: 'A', seq })))
        assert.deepEqual(store.vector(), { A: 2 })
        store.apply([op('k3', 'v', { origin: 'A', seq: 3 })])
        assert.deepEqual(store.vector(), { A: 5 })
        store.mergeVector({ A: 6, B: 2 })
        assert.deepEqual(store.vector(), { A: 7, B: 2 })
      })

      it('records ops that lost, and never lowers an entry', () => {
        const store = open()
        store.apply([op('k', 'winner', { origin: 'Z', wall: 9 }), op('k', 'loser', { origin: 'A', seq: 1 })])
        store.mergeVector({ A: 0, Z: 0 })
        assert.deepEqual(store.vector(), { A: 1, Z: 1 })
      })
    })
  })
}

describe('SqliteStore', () => {
  let files = 0
  const file = (): string => join(dir, `sqlite-${files++}.db`)

  it('has the documented schema', () => {
    const path = file()
    const store = SqliteStore.open(path)
    store.apply([op('k', 'v', { wall: 1_760_000_000_000 }), op('gone', null, { seq: 2 })])
    store.close()
    const db = new Database(path, { readonly: true })
    const columns = db.prepare('SELECT name, type, "notnull", pk FROM pragma_table_info(\'kv_store\')').raw().all()
    assert.deepEqual(columns, [['key', 'TEXT', 1, 1], ['value', 'BLOB', 0, 0], ['wall', 'INTEGER', 1, 0],
      ['logical', 'INTEGER', 1, 0], ['origin', 'TEXT', 1, 0], ['seq', 'INTEGER', 1, 0], ['sig', 'BLOB', 0, 0]])
    assert.deepEqual(db.prepare("SELECT name FROM pragma_index_info('kv_store_origin_seq')").pluck().all(), ['origin', 'seq'])
    assert.deepEqual(db.prepare('SELECT key, value, typeof(wall), wall FROM kv_store ORDER BY key').raw().all(),
      [['gone', null, 'integer', 1], ['k', Buffer.from('v'), 'integer', 1_760_000_000_000]])
    assert.deepEqual(db.prepare('SELECT name, value FROM meta ORDER BY name').raw().all(),
      [['clock_logical', 0], ['clock_wall', 1_760_000_000_000], ['keys', 1], ['schema_version', 2], ['tombstones', 1]])
    for (const table of ['version_vector', 'vector_ahead', 'op_batch']) {
      assert.ok(db.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(table), table)
    }
    db.close()
  })

  describe('batch proofs', () => {
    const sign = (payload: Uint8Array): Uint8Array => createHash('sha512').update(payload).digest()
    const written = (keys: string[], first: number, origin = 'A'): Op[] => {
      const ops = keys.map((key, i) => op(key, `${key}@${first + i}`, { origin, seq: first + i, wall: first + i }))
      proveOps(ops, sign)
      return ops
    }
    const batchRows = (store: SqliteStore): Array<[number, number]> => {
      const db = new Database(store.path, { readonly: true })
      try {
        return db.prepare('SELECT first, live FROM op_batch ORDER BY first').raw().all() as Array<[number, number]>
      } finally {
        db.close()
      }
    }

    it('keeps one digest row per batch while any of its ops is stored, and none for a one-op batch', () => {
      const store = SqliteStore.open(file())
      store.apply(written(['a', 'b', 'c'], 1))
      store.apply(written(['solo'], 4))
      assert.deepEqual(batchRows(store), [[1, 3]])
      store.apply(written(['a', 'b'], 5))
      assert.deepEqual(batchRows(store), [[1, 1], [5, 2]], 'a and b moved to the newer batch')
      store.apply(written(['c'], 7))
      assert.deepEqual(batchRows(store), [[5, 2]], 'the first batch has no op left')
      store.apply(written(['c', 'c'], 8))
      assert.deepEqual(batchRows(store), [[5, 2], [8, 1]], 'a batch that overwrote itself counts its stored op once')
      store.close()
    })

    it('returns each op with a proof that covers it, in pages that end with a batch', () => {
      const store = SqliteStore.open(file())
      const ops = written(Array.from({ length: 300 }, (_, i) => `k${i}`), 1)
      store.apply(ops)
      store.apply(written(['solo'], 301))
      const page = store.missing({}, { limit: 10 })
      assert.equal(page.ops.length, MAX_BATCH_OPS, 'the page runs on to the end of the batch it started')
      assert.deepEqual(page.next, { origin: 'A', seq: MAX_BATCH_OPS })
      const second = store.missing({}, { limit: 10, cursor: page.next })
      assert.deepEqual(second.ops.map(o => o.seq), Array.from({ length: 300 - MAX_BATCH_OPS }, (_, i) => MAX_BATCH_OPS + 1 + i))
      const last = store.missing({}, { limit: 10, cursor: second.next })
      assert.deepEqual(last, { ops: [{ ...ops[0], key: 'solo', value: Buffer.from('solo@301'), seq: 301, wall: 301, proof: last.ops[0]?.proof }] })
      for (const o of [...page.ops, ...second.ops, ...last.ops]) {
        assert.equal(proofProblem(o), undefined, `seq ${o.seq}`)
        assert.deepEqual(Buffer.from(o.proof?.sig ?? []), Buffer.from(sign(proofPayload('A', o.proof?.first ?? 0, o.proof?.digests ?? new Uint8Array()))))
      }
      assert.equal(new Set(page.ops.map(o => o.proof)).size, 1, 'ops of one batch share their proof')
      store.close()
    })

    it('counts keys and tombstones as it goes, across reopen, collection and pruning', () => {
      const path = file()
      const truth = (): object => {
        const db = new Database(path, { readonly: true })
        try {
          return db.prepare('SELECT count(value) AS keys, count(*) - count(value) AS tombstones FROM kv_store').get() as object
        } finally {
          db.close()
        }
      }
      let store = SqliteStore.open(path)
      store.apply([op('a', 'v', { seq: 1 }), op('b', 'v', { seq: 2 }), op('c', null, { seq: 3 }), op('a', null, { seq: 4, wall: 9 })])
      assert.deepEqual(store.counts(), truth())
      store.close()
      store = SqliteStore.open(path)
      assert.deepEqual(store.counts(), { keys: 1, tombstones: 2 })
      store.collectTombstones({ stable: {}, stableBefore: 0, anyBefore: Number.MAX_SAFE_INTEGER })
      assert.deepEqual(store.counts(), truth())
      store.pruneAbsent(new Set(), { 'peer-a': 10 })
      assert.deepEqual(store.counts(), { keys: 0, tombstones: 0 })
      assert.deepEqual(store.counts(), truth())
      store.close()
      // a transaction that fails half-way leaves the tallies as they were
      const db = new Database(path)
      db.exec("CREATE TRIGGER boom BEFORE INSERT ON kv_store WHEN NEW.key = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END")
      db.close()
      store = SqliteStore.open(path)
      assert.throws(() => store.apply([op('fine', 'v', { seq: 11 }), op('boom', 'v', { seq: 12 })]), /boom/)
      assert.deepEqual(store.counts(), { keys: 0, tombstones: 0 })
      store.close()
    })
  })

  it('keeps ops, clock, vector and pending gaps across close and reopen', () => {
    const path = file()
    const first = SqliteStore.open(path)
    first.apply([op('k', 'v', { wall: 7, logical: 3, origin: 'A', seq: 1 }), op('j', null, { origin: 'A', seq: 3 })])
    first.close()
    const second = SqliteStore.open(path)
    assert.deepEqual(plain(second.get('k')), plain(op('k', 'v', { wall: 7, logical: 3, origin: 'A', seq: 1 })))
    assert.deepEqual(second.clock(), { wall: 7, logical: 3 })
    assert.deepEqual(second.vector(), { A: 1 })
    second.apply([op('i', 'v', { origin: 'A', seq: 2 })])
    assert.deepEqual(second.vector(), { A: 3 })
    second.close()
  })

  it('rolls back a failed apply entirely, clock included', () => {
    const store = SqliteStore.open(file())
    const invalid = { ...op('k', 'v', { seq: 2 }), key: null as unknown as string }
    assert.throws(() => store.apply([op('j', 'v', { wall: 100 }), invalid]), /NOT NULL/)
    assert.deepEqual([store.get('j'), store.vector(), store.clock()], [undefined, {}, { wall: 0, logical: 0 }])
    store.apply([op('j', 'v', { wall: 5 })])
    assert.deepEqual(store.clock(), { wall: 5, logical: 0 })
    store.close()
  })

  it('uses WAL with synchronous=FULL by default, NORMAL on request', () => {
    const path = file()
    for (const [durability, level] of [[undefined, 2], ['full', 2], ['normal', 1]] as const) {
      const store = SqliteStore.open(path, durability === undefined ? {} : { durability })
      // synchronous is per connection, so it must be read on the store's own.
      const db = (store as unknown as { db: Database.Database }).db
      assert.equal(store.durability, durability ?? 'full')
      assert.equal(store.path, path)
      assert.equal(db.pragma('synchronous', { simple: true }), level)
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
      store.close()
    }
  })

  it('opens an empty file as a new store', () => {
    const path = file()
    writeFileSync(path, '')
    const store = SqliteStore.open(path)
    assert.deepEqual(store.counts(), { keys: 0, tombstones: 0 })
    store.close()
  })

  describe('refuses, leaving the file byte-identical,', () => {
    /** Asserts opening `path` throws `expected` and changes no byte of it. */
    function refuses (path: string, expected: RegExp, type: typeof ForeignDatabaseError | typeof StoreVersionError): void {
      const before = readFileSync(path)
      assert.throws(() => SqliteStore.open(path), (err: unknown) => err instanceof type && expected.test(err.message))
      assert.deepEqual(readFileSync(path), before)
    }

    it('a store of another schema version', () => {
      const path = file()
      SqliteStore.open(path).close()
      const db = new Database(path)
      db.prepare("UPDATE meta SET value = 1 WHERE name = 'schema_version'").run()
      db.close()
      refuses(path, /sqlite-\d+\.db has schema version 1; this murmur supports 2$/, StoreVersionError)
    })

    it('another application\'s SQLite database', () => {
      const path = file()
      const db = new Database(path)
      db.exec("CREATE TABLE meta (name TEXT, value); INSERT INTO meta VALUES ('x', 1); CREATE TABLE notes (body TEXT)")
      db.close()
      refuses(path, /is not a murmur database: it holds meta, notes$/, ForeignDatabaseError)
    })

    it('a database whose meta table has another shape', () => {
      const path = file()
      const db = new Database(path)
      db.exec('CREATE TABLE meta (k TEXT); CREATE TABLE kv_store (key TEXT)')
      db.close()
      refuses(path, /its meta table has no schema_version$/, ForeignDatabaseError)
    })

    it('a file that is not SQLite', () => {
      const path = file()
      writeFileSync(path, 'name,value\n'.repeat(1000))
      refuses(path, /is not a murmur database: not an SQLite file$/, ForeignDatabaseError)
    })
  })
})
