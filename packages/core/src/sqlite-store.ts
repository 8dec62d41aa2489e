/**
 * A `Store` in one SQLite file (better-sqlite3, WAL mode).
 *
 * `kv_store` holds only replicated data, one row per key with the winning op,
 * so two replicas that have seen the same ops hold byte-identical rows. The
 * version vector is split in two: `version_vector` is the contiguous prefix per
 * origin, `vector_ahead` the seqs received beyond a gap until the gap fills.
 */
import Database from 'better-sqlite3'
import { compareStamps, compareUtf8, isNewer } from './compare.js'
import { DamagedDatabaseError, ForeignDatabaseError, StoreVersionError } from './errors.js'
import { missingPage, seqOf } from './vector.js'
import type { CollectOptions, ListOptions, MissingOptions, MissingPage, Op, Stamp, Store, StoreCounts, VersionVector } from './types.js'

export const SCHEMA_VERSION = 1

export type Durability = 'full' | 'normal'

export interface SqliteStoreInit {
  /**
   * 'full' (default): a commit is on disk before `apply` returns
   * (`synchronous=FULL`). 'normal': faster, but a power loss (not a process
   * crash) may drop the last commits.
   */
  durability?: Durability
}

const SCHEMA = `
  CREATE TABLE kv_store (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB,
    wall INTEGER NOT NULL,
    logical INTEGER NOT NULL,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sig BLOB
  );
  CREATE INDEX kv_store_origin_seq ON kv_store (origin, seq);
  CREATE TABLE version_vector (origin TEXT PRIMARY KEY, seq INTEGER NOT NULL);
  CREATE TABLE vector_ahead (origin TEXT, seq INTEGER, PRIMARY KEY (origin, seq));
  CREATE TABLE gc_vector (origin TEXT PRIMARY KEY, seq INTEGER NOT NULL);
  CREATE TABLE meta (name TEXT PRIMARY KEY, value);
  INSERT INTO meta (name, value) VALUES ('schema_version', ${SCHEMA_VERSION}), ('clock_wall', 0), ('clock_logical', 0);
`

const OP_COLUMNS = 'key, value, wall, logical, origin, seq, sig'
/** Above every valid UTF-8 lead byte, so `prefix || 0xF5` bounds every key that starts with `prefix`. */
const PREFIX_END = `:prefix || CAST(x'F5' AS TEXT)`

export class SqliteStore implements Store {
  readonly path: string
  private readonly db: Database.Database
  private readonly mode: Durability
  private readonly sql
  private readonly applyAll: (ops: Op[]) => Op[]
  private readonly mergeAll: (theirs: VersionVector) => void
  private readonly collectAll: (options: CollectOptions) => number
  private readonly pruneAll: (present: Set<string>, covered: VersionVector) => Op[]
  private latest: Stamp

  /**
   * Opens `path`, creating the schema in a new or empty file. Throws
   * `StoreVersionError` or `ForeignDatabaseError`, without changing the file,
   * when it holds something else, and `DamagedDatabaseError` when SQLite finds
   * our own file damaged.
   */
  static open (path: string, init: SqliteStoreInit = {}): SqliteStore {
    const durability = init.durability ?? 'full'
    const db = new Database(path)
    try {
      db.pragma('busy_timeout = 5000')
      const empty = inspect(db, path)
      if (!empty) checkIntegrity(db, path)
      db.pragma('journal_mode = WAL')
      // better-sqlite3 builds SQLite to default WAL databases to NORMAL; set it explicitly.
      db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`)
      // after a burst of writes, truncate the WAL back to 64 MiB at the next checkpoint instead of keeping it
      db.pragma('journal_size_limit = 67108864')
      if (empty) db.exec(SCHEMA)
      return new SqliteStore(db, path, durability)
    } catch (err) {
      db.close()
      throw err
    }
  }

  private constructor (db: Database.Database, path: string, durability: Durability) {
    this.db = db
    this.path = path
    this.mode = durability
    this.sql = prepareStatements(db)
    this.latest = this.readClock()
    this.applyAll = db.transaction((ops: Op[]) => this.applyInTransaction(ops))
    this.mergeAll = db.transaction((theirs: VersionVector) => {
      for (const [origin, seq] of Object.entries(theirs)) {
        if (seq > this.contiguous(origin)) this.advance(origin, seq)
      }
    })
    this.collectAll = db.transaction((options: CollectOptions) => {
      let removed = 0
      for (const op of this.sql.tombstonesBefore.all(Math.max(options.stableBefore, options.anyBefore))) {
        const stable = op.wall < options.stableBefore && op.seq <= seqOf(options.stable, op.origin)
        if (!stable && op.wall >= options.anyBefore) continue
        this.sql.remove.run(op.key)
        this.sql.raiseGc.run(op.origin, op.seq)
        removed++
      }
      return removed
    })
    this.pruneAll = db.transaction((present: Set<string>, covered: VersionVector) => {
      const removed = this.sql.all.all().map(fromRow).filter(op => !present.has(op.key) && op.seq <= seqOf(covered, op.origin))
      for (const op of removed) this.sql.remove.run(op.key)
      return removed
    })
  }

  get durability (): Durability {
    return this.mode
  }

  get (key: string): Op | undefined {
    return fromRow(this.sql.get.get(key))
  }

  list (options: ListOptions = {}): Op[] {
    const { prefix = '', after, limit = -1 } = options
    // One lower bound, so SQLite seeks straight to it instead of scanning from the prefix.
    return after !== undefined && compareUtf8(after, prefix) >= 0
      ? this.sql.listAfter.all({ prefix, after, limit }).map(fromRow)
      : this.sql.listFrom.all({ prefix, limit }).map(fromRow)
  }

  apply (ops: Op[]): Op[] {
    const before = this.latest
    try {
      return this.applyAll(ops)
    } catch (err) {
      this.latest = before
      throw err
    }
  }

  vector (): VersionVector {
    return Object.fromEntries(this.sql.vector.raw().all())
  }

  mergeVector (theirs: VersionVector): void {
    this.mergeAll(theirs)
  }

  missing (theirs: VersionVector, options: MissingOptions): MissingPage {
    const { limit, cursor } = options
    const ops: Op[] = []
    for (const origin of this.sql.origins.all({ from: cursor?.origin ?? '' })) {
      const after = Math.max(seqOf(theirs, origin), origin === cursor?.origin ? cursor.seq : 0)
      ops.push(...this.sql.originOps.all({ origin, after, limit: limit - ops.length }).map(fromRow))
      if (ops.length >= limit) break
    }
    return missingPage(ops, limit)
  }

  gcVector (): VersionVector {
    return Object.fromEntries(this.sql.gcVector.raw().all())
  }

  mergeGcVector (theirs: VersionVector): void {
    for (const [origin, seq] of Object.entries(theirs)) this.sql.raiseGc.run(origin, seq)
  }

  collectTombstones (options: CollectOptions): number {
    return this.collectAll(options)
  }

  pruneAbsent (present: Set<string>, covered: VersionVector): Op[] {
    return this.pruneAll(present, covered)
  }

  clock (): Stamp {
    return { ...this.latest }
  }

  counts (): StoreCounts {
    return this.sql.counts.get() as StoreCounts // an aggregate query always returns a row
  }

  close (): void {
    this.db.close()
  }

  private applyInTransaction (ops: Op[]): Op[] {
    const changed: Op[] = []
    for (const op of ops) {
      const current = this.sql.get.get(op.key)
      if (current === undefined || isNewer(op, current)) {
        this.sql.put.run({ ...op, sig: op.sig ?? null })
        changed.push(op)
      }
      this.record(op.origin, op.seq)
      if (compareStamps(op, this.latest) > 0) this.latest = { wall: op.wall, logical: op.logical }
    }
    this.sql.setClock.run(this.latest)
    return changed
  }

  private contiguous (origin: string): number {
    return this.sql.contiguous.get(origin) ?? 0
  }

  private record (origin: string, seq: number): void {
    const contiguous = this.contiguous(origin)
    if (seq === contiguous + 1) this.advance(origin, seq)
    else if (seq > contiguous) this.sql.addAhead.run(origin, seq)
  }

  /** Sets the contiguous entry to `seq`, then carries it through any seqs already received beyond it. */
  private advance (origin: string, seq: number): void {
    for (const held of this.sql.aheadAfter.iterate(origin, seq)) {
      if (held !== seq + 1) break
      seq = held
    }
    this.sql.dropAhead.run(origin, seq)
    this.sql.setContiguous.run(origin, seq)
  }

  private readClock (): Stamp {
    return { wall: this.sql.meta.get('clock_wall') as number, logical: this.sql.meta.get('clock_logical') as number }
  }
}

/** A row as an op: an unsigned op has no `sig` property at all, as in memory. */
function fromRow<T extends Op | undefined> (row: T): T {
  if (row != null && (row as { sig?: unknown }).sig === null) delete row.sig
  return row
}

/** Whether the file is empty (true) or ours (false); throws for anything else. */
function inspect (db: Database.Database, path: string): boolean {
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
  if (version !== SCHEMA_VERSION) throw new StoreVersionError(path, version, SCHEMA_VERSION)
  return false
}

/**
 * Runs `PRAGMA quick_check` before anything writes, so a damaged file is
 * reported rather than written over. It reads every page once: about 25 ms
 * for 100,000 keys (22 MB) from the page cache.
 */
function checkIntegrity (db: Database.Database, path: string): void {
  let result: unknown
  try {
    result = db.pragma('quick_check(1)', { simple: true })
  } catch (err) {
    throw damaged(path, err) ?? err
  }
  if (result === 'ok') return
  // e.g. "*** in database main ***\nTree 4 page 5273 cell 53: invalid page number 825377843"
  const problem = String(result).split('\n').filter(line => !line.startsWith('***')).join('; ')
  throw new DamagedDatabaseError(path, problem)
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

function prepareStatements (db: Database.Database) {
  return {
    get: db.prepare<[string], Op>(`SELECT ${OP_COLUMNS} FROM kv_store WHERE key = ?`),
    put: db.prepare<[Omit<Op, 'sig'> & { sig: Uint8Array | null }]>(`INSERT INTO kv_store (${OP_COLUMNS}) VALUES (:key, :value, :wall, :logical, :origin, :seq, :sig)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, wall = excluded.wall, logical = excluded.logical,
        origin = excluded.origin, seq = excluded.seq, sig = excluded.sig`),
    listFrom: db.prepare<[{ prefix: string, limit: number }], Op>(`SELECT ${OP_COLUMNS} FROM kv_store
      WHERE key >= :prefix AND key < ${PREFIX_END} AND value IS NOT NULL ORDER BY key LIMIT :limit`),
    listAfter: db.prepare<[{ prefix: string, after: string, limit: number }], Op>(`SELECT ${OP_COLUMNS} FROM kv_store
      WHERE key > :after AND key < ${PREFIX_END} AND value IS NOT NULL ORDER BY key LIMIT :limit`),
    origins: db.prepare<[{ from: string }], string>(`SELECT origin FROM version_vector WHERE origin >= :from
      UNION SELECT origin FROM vector_ahead WHERE origin >= :from ORDER BY origin`).pluck(),
    originOps: db.prepare<[{ origin: string, after: number, limit: number }], Op>(`SELECT ${OP_COLUMNS} FROM kv_store
      WHERE origin = :origin AND seq > :after ORDER BY seq LIMIT :limit`),
    counts: db.prepare<[], StoreCounts>('SELECT count(value) AS keys, count(*) - count(value) AS tombstones FROM kv_store'),
    vector: db.prepare<[], [string, number]>('SELECT origin, seq FROM version_vector'),
    contiguous: db.prepare<[string], number>('SELECT seq FROM version_vector WHERE origin = ?').pluck(),
    setContiguous: db.prepare<[string, number]>(`INSERT INTO version_vector (origin, seq) VALUES (?, ?)
      ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq`),
    addAhead: db.prepare<[string, number]>('INSERT OR IGNORE INTO vector_ahead (origin, seq) VALUES (?, ?)'),
    aheadAfter: db.prepare<[string, number], number>('SELECT seq FROM vector_ahead WHERE origin = ? AND seq > ? ORDER BY seq').pluck(),
    dropAhead: db.prepare<[string, number]>('DELETE FROM vector_ahead WHERE origin = ? AND seq <= ?'),
    meta: db.prepare<[string], unknown>('SELECT value FROM meta WHERE name = ?').pluck(),
    all: db.prepare<[], Op>(`SELECT ${OP_COLUMNS} FROM kv_store`),
    remove: db.prepare<[string]>('DELETE FROM kv_store WHERE key = ?'),
    tombstonesBefore: db.prepare<[number], Op>(`SELECT ${OP_COLUMNS} FROM kv_store WHERE value IS NULL AND wall < ?`),
    gcVector: db.prepare<[], [string, number]>('SELECT origin, seq FROM gc_vector'),
    raiseGc: db.prepare<[string, number]>(`INSERT INTO gc_vector (origin, seq) VALUES (?, ?)
      ON CONFLICT (origin) DO UPDATE SET seq = max(seq, excluded.seq)`),
    setClock: db.prepare<[Stamp]>(`UPDATE meta SET value = CASE name WHEN 'clock_wall' THEN CAST(:wall AS INTEGER)
      ELSE CAST(:logical AS INTEGER) END WHERE name IN ('clock_wall', 'clock_logical')`)
  }
}
