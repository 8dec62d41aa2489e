/**
 * The raw-SQLite baseline, run in its own process: better-sqlite3 inserts into
 * a table identical to murmur's kv_store, WAL, synchronous=FULL, one row per
 * transaction and in large transactions. Prints one JSON line.
 *
 *   node bench/sqlite-baseline.mjs <dir> <ms> <valueBytes> [<sync>]
 */
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'

const [dir, msArg, valueArg, sync = 'FULL'] = process.argv.slice(2)
const ms = Number(msArg)
const value = Buffer.alloc(Number(valueArg), 0x61)
const db = new Database(join(dir, `baseline-${process.pid}.db`))
db.pragma('journal_mode = WAL')
db.pragma(`synchronous = ${sync}`)
db.exec(`CREATE TABLE kv_store (key TEXT PRIMARY KEY NOT NULL, value BLOB, wall INTEGER NOT NULL, logical INTEGER NOT NULL,
  origin TEXT NOT NULL, seq INTEGER NOT NULL)`)
const insert = db.prepare('INSERT INTO kv_store (key, value, wall, logical, origin, seq) VALUES (?, ?, ?, ?, ?, ?)')
const ORIGIN = '12D3KooWBenchBaselineOriginPeerIdOfFiftyTwoCharsXYZ'
let seq = 0
const row = prefix => { seq++; insert.run(`${prefix}:${seq}`, value, Date.now(), 0, ORIGIN, seq) }

/** Rows per second of `step` (which inserts `rows` rows) repeated for `ms`, at most `maxRows` rows. */
function rate (rows, step, maxRows) {
  const start = performance.now()
  let n = 0
  while (performance.now() - start < ms && n < maxRows) { step(); n += rows }
  return n / ((performance.now() - start) / 1000)
}

const single = rate(1, () => row('single'), 1_000_000) // better-sqlite3 autocommits each statement: one transaction per row
const BIG = 10_000
const big = db.transaction(() => { for (let i = 0; i < BIG; i++) row('big') })
const large = rate(BIG, big, 5_000_000)
db.close()
process.stdout.write(JSON.stringify({ sync, singleRowTxPerSec: single, largeTxRowsPerSec: large, rowsPerLargeTx: BIG }) + '\n')
