/**
 * What the partition heal's storage work would cost under other table
 * layouts: the SQL a node runs to take 10,000 conflicting ops (all winning,
 * then on a second file all losing), to serve one origin's 10,000 ops, and
 * to read 1,000 keys, on three layouts of the same data, in one process:
 *
 * - `current`: murmur's tables (kv_store, op_history for sync, key_history
 *   with its version index for `history`): a winner moves the old row to
 *   op_history and key_history and rewrites its kv_store row under a new
 *   change cursor; a loser goes into op_history and key_history.
 * - `one-past`: op_history and key_history as one table (each superseded op
 *   stored once, flagged for both uses, an index by key and one by origin).
 * - `log`: every op once, in an append-only table by (origin, seq, digest)
 *   with an index by key (its history); kv_store only points at the winner.
 *
 * Statements only (no decoding, verifying or JS bookkeeping of the core),
 * each page of 560 ops in one transaction, as a pull's frame is; WAL,
 * synchronous=NORMAL, no checkpoints (as murmurd's remote writes). CPU time
 * per phase, each layout in turn, `--rounds` times (default 3). A spike to
 * decide whether a schema change could make the heal as cheap as 728ec9a's,
 * which stored only the winners; not part of `npm run bench`.
 *
 *   node bench/storage-spike.mjs [--rounds N]
 */
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values: opts } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } })
const ROUNDS = Number(opts.rounds)
if (!Number.isInteger(ROUNDS) || ROUNDS < 1 || ROUNDS > 20) throw new Error('--rounds must be a whole number from 1 to 20')
const N = 10_000
const PAGE = 560
const A = `12D3KooWA${'a'.repeat(43)}`
const B = `12D3KooWB${'b'.repeat(43)}`
const OP = 'key, value, wall, logical, origin, seq, sig, type, expires, seen_wall, seen_logical, seen_origin, refresh'
const HEADS = 'key, value, type, wall, logical, origin, seq, sig, seen_wall, seen_logical, seen_origin, refresh'
const KV_STORE = `CREATE TABLE kv_store (key TEXT PRIMARY KEY NOT NULL, value BLOB, wall INTEGER NOT NULL, logical INTEGER NOT NULL,
  origin TEXT NOT NULL, seq INTEGER NOT NULL, sig BLOB, digest BLOB NOT NULL, type TEXT NOT NULL DEFAULT 'text', expires INTEGER,
  seen_wall INTEGER, seen_logical INTEGER, seen_origin TEXT, refresh INTEGER);
  CREATE INDEX kv_store_origin_seq ON kv_store (origin, seq);`
const PUT = `INSERT INTO kv_store (rowid, ${OP}, digest) VALUES (?, ?, ?, ?, 0, ?, ?, ?, 'text', NULL, NULL, NULL, NULL, NULL, ?)
  ON CONFLICT (key) DO UPDATE SET rowid = excluded.rowid, value = excluded.value, wall = excluded.wall, logical = excluded.logical,
  origin = excluded.origin, seq = excluded.seq, sig = excluded.sig, type = excluded.type, digest = excluded.digest`

// fixed bytes, made once: the phases time SQLite, not the random number generator
const bytes = (n, salt) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + salt * 17) & 0xff))
const values = Array.from({ length: 64 }, (_, i) => bytes(100, i))
const digests = Array.from({ length: 2 * N + 1 }, (_, i) => bytes(32, i))
const sig = bytes(64, 7)
const key = i => `heal/${String(i).padStart(6, '0')}`
// each op: (index, origin, seq, cursor, wall); digest by origin and seq, so a winner and the row it replaces differ
const digestOf = (origin, seq) => digests[(origin === A ? 0 : N) + seq]

const LAYOUTS = {
  current: {
    schema: `${KV_STORE}
      CREATE TABLE op_history (origin TEXT NOT NULL, seq INTEGER NOT NULL, digest BLOB NOT NULL, key TEXT NOT NULL, value BLOB, wall INTEGER NOT NULL,
        logical INTEGER NOT NULL, sig BLOB, type TEXT NOT NULL DEFAULT 'text', expires INTEGER, seen_wall INTEGER, seen_logical INTEGER,
        seen_origin TEXT, refresh INTEGER, PRIMARY KEY (origin, seq, digest)) WITHOUT ROWID;
      CREATE TABLE key_history (id INTEGER PRIMARY KEY, key TEXT NOT NULL, value BLOB, wall INTEGER NOT NULL, logical INTEGER NOT NULL,
        origin TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL DEFAULT 'text', seen_wall INTEGER, seen_logical INTEGER,
        seen_origin TEXT, digest BLOB NOT NULL, conflict INTEGER);
      CREATE UNIQUE INDEX key_history_version ON key_history (key, wall, logical, origin, seq, digest);`,
    prepare: db => ({
      heads: db.prepare(`SELECT ${HEADS}, NOT EXISTS (SELECT 1 FROM key_history h WHERE h.key = kv_store.key) FROM kv_store
        WHERE key IN (SELECT value FROM json_each(?))`).raw(true),
      put: db.prepare(PUT),
      toOps: db.prepare(`INSERT OR IGNORE INTO op_history (${OP}, digest) SELECT ${OP}, digest FROM kv_store WHERE key = ?`),
      toHistory: db.prepare(`INSERT OR IGNORE INTO key_history (key, value, wall, logical, origin, seq, type, digest)
        SELECT key, value, wall, logical, origin, seq, type, digest FROM kv_store WHERE key = ?`),
      addOps: db.prepare(`INSERT OR IGNORE INTO op_history (${OP}, digest) VALUES (?, ?, ?, 0, ?, ?, ?, 'text', NULL, NULL, NULL, NULL, NULL, ?)`),
      addHistory: db.prepare(`INSERT OR IGNORE INTO key_history (key, value, wall, logical, origin, seq, digest, conflict) VALUES (?, ?, ?, 0, ?, ?, ?, ?)`),
      rows: db.prepare(`SELECT ${OP} FROM kv_store WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ${PAGE}`),
      past: db.prepare(`SELECT ${OP}, digest FROM op_history WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ${PAGE}`),
      get: db.prepare(`SELECT ${OP} FROM kv_store WHERE key = ?`)
    }),
    write: (q, i, origin, seq, cursor, wall) => q.put.run(cursor, key(i), values[i % 64], wall, origin, seq, sig, digestOf(origin, seq)),
    win: (q, i, origin, seq, cursor, wall) => {
      q.toOps.run(key(i))
      q.toHistory.run(key(i))
      q.put.run(cursor, key(i), values[i % 64], wall, origin, seq, sig, digestOf(origin, seq))
    },
    lose: (q, i, origin, seq, cursor, wall) => {
      q.addOps.run(key(i), values[i % 64], wall, origin, seq, sig, digestOf(origin, seq))
      q.addHistory.run(key(i), values[i % 64], wall, origin, seq, digestOf(origin, seq), cursor)
    },
    serve: (q, origin) => pages(after => [...q.rows.all(origin, after), ...q.past.all(origin, after)])
  },
  'one-past': {
    schema: `${KV_STORE}
      CREATE TABLE past (id INTEGER PRIMARY KEY, origin TEXT NOT NULL, seq INTEGER NOT NULL, digest BLOB NOT NULL, key TEXT NOT NULL, value BLOB,
        wall INTEGER NOT NULL, logical INTEGER NOT NULL, sig BLOB, type TEXT NOT NULL DEFAULT 'text', expires INTEGER, seen_wall INTEGER,
        seen_logical INTEGER, seen_origin TEXT, refresh INTEGER, served INTEGER, conflict INTEGER);
      CREATE UNIQUE INDEX past_version ON past (key, wall, logical, origin, seq, digest);
      CREATE INDEX past_served ON past (origin, seq) WHERE served IS NOT NULL;`,
    prepare: db => ({
      heads: db.prepare(`SELECT ${HEADS}, NOT EXISTS (SELECT 1 FROM past h WHERE h.key = kv_store.key) FROM kv_store
        WHERE key IN (SELECT value FROM json_each(?))`).raw(true),
      put: db.prepare(PUT),
      toPast: db.prepare(`INSERT OR IGNORE INTO past (${OP}, digest, served) SELECT ${OP}, digest, 1 FROM kv_store WHERE key = ?`),
      addPast: db.prepare(`INSERT OR IGNORE INTO past (${OP}, digest, served, conflict) VALUES (?, ?, ?, 0, ?, ?, ?, 'text', NULL, NULL, NULL, NULL, NULL, ?, 1, ?)`),
      rows: db.prepare(`SELECT ${OP} FROM kv_store WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ${PAGE}`),
      past: db.prepare(`SELECT ${OP}, digest FROM past WHERE origin = ? AND seq > ? AND served IS NOT NULL ORDER BY seq LIMIT ${PAGE}`),
      get: db.prepare(`SELECT ${OP} FROM kv_store WHERE key = ?`)
    }),
    write: (q, ...op) => LAYOUTS.current.write(q, ...op),
    win: (q, i, origin, seq, cursor, wall) => {
      q.toPast.run(key(i))
      q.put.run(cursor, key(i), values[i % 64], wall, origin, seq, sig, digestOf(origin, seq))
    },
    lose: (q, i, origin, seq, cursor, wall) => q.addPast.run(key(i), values[i % 64], wall, origin, seq, sig, digestOf(origin, seq), cursor),
    serve: (q, origin) => pages(after => [...q.rows.all(origin, after), ...q.past.all(origin, after)])
  },
  log: {
    schema: `CREATE TABLE ops (origin TEXT NOT NULL, seq INTEGER NOT NULL, digest BLOB NOT NULL, key TEXT NOT NULL, value BLOB, wall INTEGER NOT NULL,
        logical INTEGER NOT NULL, sig BLOB, type TEXT NOT NULL DEFAULT 'text', expires INTEGER, seen_wall INTEGER, seen_logical INTEGER,
        seen_origin TEXT, refresh INTEGER, conflict INTEGER, PRIMARY KEY (origin, seq, digest)) WITHOUT ROWID;
      CREATE INDEX ops_key ON ops (key, wall, logical, origin, seq);
      CREATE TABLE kv (key TEXT PRIMARY KEY NOT NULL, wall INTEGER NOT NULL, logical INTEGER NOT NULL, origin TEXT NOT NULL, seq INTEGER NOT NULL,
        digest BLOB NOT NULL, live INTEGER NOT NULL, cursor INTEGER NOT NULL, expires INTEGER) WITHOUT ROWID;
      CREATE UNIQUE INDEX kv_cursor ON kv (cursor);`,
    prepare: db => ({
      heads: db.prepare(`SELECT key, wall, logical, origin, seq, digest, live, NOT EXISTS (SELECT 1 FROM ops o WHERE o.key = kv.key AND o.seq != kv.seq)
        FROM kv WHERE key IN (SELECT value FROM json_each(?))`).raw(true),
      op: db.prepare('INSERT OR IGNORE INTO ops (origin, seq, digest, key, value, wall, logical, sig, conflict) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)'),
      kv: db.prepare(`INSERT INTO kv (key, wall, logical, origin, seq, digest, live, cursor) VALUES (?, ?, 0, ?, ?, ?, 1, ?)
        ON CONFLICT (key) DO UPDATE SET wall = excluded.wall, logical = excluded.logical, origin = excluded.origin, seq = excluded.seq,
        digest = excluded.digest, live = excluded.live, cursor = excluded.cursor`),
      ops: db.prepare(`SELECT ${OP}, digest FROM ops WHERE origin = ? AND seq > ? ORDER BY seq LIMIT ${PAGE}`),
      get: db.prepare(`SELECT o.key, o.value, o.wall, o.logical, o.origin, o.seq, o.sig, o.type, o.expires FROM kv
        JOIN ops o ON o.origin = kv.origin AND o.seq = kv.seq AND o.digest = kv.digest WHERE kv.key = ?`)
    }),
    write: (q, i, origin, seq, cursor, wall) => {
      q.op.run(origin, seq, digestOf(origin, seq), key(i), values[i % 64], wall, sig, null)
      q.kv.run(key(i), wall, origin, seq, digestOf(origin, seq), cursor)
    },
    win: (q, ...op) => LAYOUTS.log.write(q, ...op),
    lose: (q, i, origin, seq, cursor, wall) => q.op.run(origin, seq, digestOf(origin, seq), key(i), values[i % 64], wall, sig, cursor),
    serve: (q, origin) => pages(after => q.ops.all(origin, after))
  }
}

/** Reads one origin's ops page by page (`read(after)`), returning how many. */
function pages (read) {
  let count = 0
  for (let after = 0, n = 0; n < N; n++) {
    const page = read(after)
    if (page.length === 0) break
    count += page.length
    after = Math.max(...page.map(op => op.seq))
  }
  return count
}

function cpuMs (fn) {
  const start = process.cpuUsage()
  fn()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1000
}

function measure (dir, name, layout, round) {
  const out = {}
  for (const mode of ['win', 'lose']) {
    const db = new Database(join(dir, `${name}-${mode}-${round}.db`))
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.pragma('wal_autocheckpoint = 0')
    db.exec(layout.schema)
    const q = layout.prepare(db)
    let cursor = 0
    // this node's own 10,000 ops (origin A), then the other side's 10,000 (origin B), newer (win) or older (lose)
    db.transaction(() => { for (let i = 0; i < N; i++) layout.write(q, i, A, i + 1, ++cursor, 1_000_000 + i) })()
    db.pragma('wal_checkpoint(TRUNCATE)')
    out[mode] = cpuMs(() => {
      for (let first = 0; first < N; first += PAGE) {
        db.transaction(() => {
          const last = Math.min(N, first + PAGE)
          q.heads.all(JSON.stringify(Array.from({ length: last - first }, (_, k) => key(first + k))))
          for (let i = first; i < last; i++) layout[mode](q, i, B, i + 1, ++cursor, (mode === 'win' ? 2_000_000 : 0) + i)
        })()
      }
    })
    if (mode === 'win') {
      let served = 0
      out.serve = cpuMs(() => { served = layout.serve(q, A) + layout.serve(q, B) })
      if (served !== 2 * N) throw new Error(`${name} served ${served} ops, not ${2 * N}`)
      out.get = cpuMs(() => { for (let i = 0; i < 1000; i++) q.get.get(key((i * 7) % N)) })
    }
    db.close()
  }
  return out
}

const dir = mkdtempSync(join(tmpdir(), 'murmur-spike-'))
try {
  const runs = {}
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, layout] of Object.entries(LAYOUTS)) (runs[name] ??= []).push(measure(dir, name, layout, round))
  }
  const median = xs => [...xs].sort((a, b) => a - b)[xs.length >> 1]
  console.log(`CPU ms, median of ${ROUNDS} (10,000 ops a phase; serve: both origins, 20,000 ops; get: 1,000 keys)`)
  console.log('layout      take winning  take losing  serve    get')
  for (const [name, rs] of Object.entries(runs)) {
    const m = k => median(rs.map(r => r[k])).toFixed(1).padStart(8)
    console.log(`${name.padEnd(10)}  ${m('win')}      ${m('lose')}     ${m('serve')} ${m('get')}`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
