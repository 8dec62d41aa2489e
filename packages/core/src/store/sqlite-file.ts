/**
 * Checks an SQLite file before the store uses it: empty, murmur's own at this
 * schema version, or something to refuse without writing a byte.
 */
import { existsSync, rmSync, statSync } from 'node:fs'
import Database from 'better-sqlite3'
import { DamagedDatabaseError, ForeignDatabaseError, StoreVersionError, UpgradeFailedError } from '../errors.js'
import { mendRenumbered } from './change-entries.js'
import { MIGRATIONS, SCHEMA, SCHEMA_VERSION } from './sqlite-schema.js'

export type Durability = 'full' | 'group' | 'normal'

export interface SqliteStoreInit {
  /**
   * 'full' (default): a commit is on disk before its transaction returns
   * (`synchronous=FULL`). 'group' and 'normal': a commit returns before it is
   * on disk, and `sync()` or `syncNow()` then puts every commit so far on disk
   * with one fsync of the WAL, so a caller can acknowledge a group of commits
   * at once and keep committing while the disk syncs ('normal' says the caller
   * acknowledges before that).
   */
  durability?: Durability
  /**
   * false: never move the WAL into the database file while open (SQLite's
   * automatic checkpoints are off), so cutting the WAL to its length at the
   * last fsync reproduces exactly what a power loss would leave. For
   * simulations. @default true
   */
  checkpoints?: boolean
}


/** How much of the file `checkIntegrity` maps at most; SQLite reads any rest as usual. */
const CHECK_MMAP_BYTES = 2 ** 32

/**
 * Whether the file is empty (true) or ours (false); throws for anything else.
 * Ours at an older version that `MIGRATIONS` covers comes back as `migrate`:
 * nothing is written before the integrity check.
 */
function inspect (db: Database.Database, path: string): boolean | 'migrate' {
  let names: string[]
  try {
    // Every schema object counts, so a database holding only views or triggers is not mistaken for empty.
    names = db.prepare<[], string>("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").pluck().all()
  } catch (err) {
    if ((err as { code?: unknown }).code === 'SQLITE_NOTADB') throw new ForeignDatabaseError(path, 'not an SQLite file', { cause: err })
    throw damaged(path, err) ?? err
  }
  if (names.length === 0) return true
  if (!names.includes('meta') || !names.includes('kv_store')) throw new ForeignDatabaseError(path, `it holds ${names.slice(0, 5).join(', ')}`)
  const version = schemaVersion(db)
  if (version === undefined) throw new ForeignDatabaseError(path, 'its meta table has no schema_version')
  if (version === SCHEMA_VERSION) return false
  if (typeof version === 'number' && version < SCHEMA_VERSION && MIGRATIONS[version] !== undefined) return 'migrate'
  throw new StoreVersionError(path, version, SCHEMA_VERSION, Math.min(...Object.keys(MIGRATIONS).map(Number)))
}

/** Brings an older file up to `SCHEMA_VERSION`, each step and the whole in one transaction (a crash leaves it as it was). */
function migrate (db: Database.Database, path: string): void {
  const from = Number(schemaVersion(db))
  try {
    db.transaction(() => {
      for (let version = from; version < SCHEMA_VERSION; version++) {
        const step = MIGRATIONS[version]
        if (step === undefined) throw new Error(`bug: no migration from schema version ${version}`)
        db.exec(step)
      }
    })()
  } catch (err) {
    // SQLite's own words ("database or disk is full") say neither that the file is intact nor what to do
    throw new UpgradeFailedError(path, from, SCHEMA_VERSION, { cause: err })
  }
}

/**
 * Runs `PRAGMA quick_check` before anything writes, so a damaged file is
 * reported rather than written over. It reads every page once, the most of
 * what a node with many keys does at start: with the file memory-mapped for
 * the check, rather than read a page per system call, it takes ~40% less
 * (1,000,000 keys, 430 MB: ~570 ms instead of ~950 ms on a loaded 2-core
 * machine, from the page cache). The mapping ends with the check: the store
 * reads through SQLite's own cache, as before.
 */
function checkIntegrity (db: Database.Database, path: string): void {
  let result: unknown
  try {
    db.pragma(`mmap_size = ${CHECK_MMAP_BYTES}`)
    result = db.pragma('quick_check(1)', { simple: true })
  } catch (err) {
    throw damaged(path, err) ?? err
  } finally {
    db.pragma('mmap_size = 0')
  }
  if (result === 'ok') return
  // e.g. "*** in database main ***\nTree 4 page 5273 cell 53: invalid page number 825377843"
  const problem = String(result).split('\n').filter(line => !line.startsWith('***')).join('; ')
  throw new DamagedDatabaseError(path, problem)
}

/**
 * Refuses a file whose rows lost the leading U+0000 of murmur's own keys: a
 * copy made through text that ends strings at U+0000, such as the sqlite3
 * shell's `.dump` (3.40 writes those keys as ''). No write makes an empty
 * key, and the record it was, cut from its signed key, would differ from
 * every other replica's for good (and fail every peer's check when served).
 */
function refuseCutKeys (db: Database.Database, path: string): void {
  if (db.prepare<[], number>("SELECT 1 FROM kv_store WHERE key = '' LIMIT 1").pluck().get() === undefined) return
  throw new DamagedDatabaseError(path, 'kv_store holds a row with an empty key, one of murmur\'s own records cut at its leading U+0000 (a copy made with the sqlite3 shell\'s .dump?)')
}

function damaged (path: string, err: unknown): DamagedDatabaseError | undefined {
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT')) return new DamagedDatabaseError(path, (err as Error).message, { cause: err })
  return undefined
}

function schemaVersion (db: Database.Database): unknown {
  try {
    return db.prepare<[], unknown>("SELECT value FROM meta WHERE name = 'schema_version'").pluck().get()
  } catch {
    return undefined // a `meta` table of another shape
  }
}

/**
 * `inspect`, then the checks of a file of ours, on a read-only connection: a
 * read-write one, closed after a refusal, would move a WAL a crash left into
 * the refused file and delete it.
 */
function checked (path: string): boolean | 'migrate' {
  // what the connection makes for a file in WAL mode (an empty WAL and its index), and cannot remove as it closes
  const made = [`${path}-wal`, `${path}-shm`].filter(file => !existsSync(file))
  const db = new Database(path, { readonly: true })
  try {
    db.pragma('busy_timeout = 5000')
    const empty = inspect(db, path)
    if (empty !== true) checkIntegrity(db, path)
    if (empty !== true) refuseCutKeys(db, path)
    db.close()
    return empty
  } catch (err) {
    db.close()
    if (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size === 0) for (const file of made) rmSync(file, { force: true })
    throw err
  }
}

/**
 * Opens `path` (or ':memory:') in WAL mode, creating the schema in a new or
 * empty file. Throws `StoreVersionError` or `ForeignDatabaseError`, without
 * changing the file, when it holds something else, and `DamagedDatabaseError`
 * when SQLite finds our own file damaged.
 */
export function openDatabase (path: string, full: boolean, checkpoints: boolean): Database.Database {
  const empty = path === ':memory:' || !existsSync(path) ? true : checked(path)
  const db = new Database(path)
  try {
    db.pragma('busy_timeout = 5000')
    if (path !== ':memory:') {
      db.pragma('journal_mode = WAL')
      // better-sqlite3 builds SQLite to default WAL databases to NORMAL; set it explicitly.
      db.pragma(`synchronous = ${full ? 'FULL' : 'NORMAL'}`)
      // after a burst of writes, truncate the WAL back to 64 MiB at the next checkpoint instead of keeping it
      db.pragma('journal_size_limit = 67108864')
      if (!checkpoints) db.pragma('wal_autocheckpoint = 0')
    }
    if (empty === true) db.exec(SCHEMA)
    if (empty === 'migrate') migrate(db, path)
    if (empty !== true) mendRenumbered(db)
    return db
  } catch (err) {
    db.close()
    throw err
  }
}

/** Pages copied per step of `backupDatabase` (4 KiB each): about a millisecond of work. */
const BACKUP_STEP_PAGES = 256

/**
 * Writes a consistent copy of `db` to `dest` (a new file) with SQLite's
 * online backup, a few hundred pages per step with the event loop running
 * between steps (writes made meanwhile through `db` reach the copy too). The
 * copy stands alone (no WAL) and holds `stamp` in its meta table. Resolves
 * to the number of pages copied.
 */
export async function backupDatabase (db: Database.Database, dest: string, stamp: Record<string, string>, progress?: (done: number, total: number) => void): Promise<number> {
  const { totalPages } = await db.backup(dest, {
    progress: ({ totalPages, remainingPages }) => {
      progress?.(totalPages - remainingPages, totalPages)
      return BACKUP_STEP_PAGES
    }
  })
  const copy = new Database(dest)
  try {
    copy.pragma('journal_mode = DELETE')
    const set = copy.prepare<[string, string]>('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value')
    copy.transaction(() => { for (const [name, value] of Object.entries(stamp)) set.run(name, value) })()
  } finally {
    copy.close()
  }
  return totalPages
}
