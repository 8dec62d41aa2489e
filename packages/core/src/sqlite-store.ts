/**
 * A `Store` in one SQLite file (better-sqlite3, WAL mode).
 *
 * `kv_store` holds only replicated data, one row per key with the winning op,
 * so two replicas that have seen the same ops hold byte-identical rows. The
 * version vector is split in two: `version_vector` is the contiguous prefix per
 * origin, `vector_ahead` the seqs received beyond a gap until the gap fills.
 *
 * `kv_store.sig` is the signature of the batch the op was written in; the
 * batch's digests live in `op_batch`, one row per batch of more than one op
 * that still has an op in `kv_store` (`live` counts them). A one-op batch
 * needs no row: its only digest is the op's own.
 */
import { closeSync, fsync, fsyncSync, openSync } from 'node:fs'
import Database from 'better-sqlite3'
import { compareStamps, compareUtf8, isNewer } from './compare.js'
import { DamagedDatabaseError, ForeignDatabaseError, StoreVersionError } from './errors.js'
import { DIGEST_BYTES, opDigest, proofSize } from './proof.js'
import { missingPage, seqOf } from './vector.js'
import type { CollectOptions, ListOptions, MissingOptions, MissingPage, Op, OpProof, Stamp, Store, StoreCounts, VersionVector } from './types.js'

export const SCHEMA_VERSION = 2

export type Durability = 'full' | 'group' | 'normal'

export interface SqliteStoreInit {
  /**
   * 'full' (default): a commit is on disk before `apply` returns
   * (`synchronous=FULL`). 'group': a commit returns before it is on disk;
   * `sync()` or `syncNow()` then puts every commit so far on disk with one
   * fsync of the WAL, so a caller can acknowledge a group of commits at once
   * and keep committing while the disk syncs. 'normal': faster, but a power
   * loss (not a process crash) may drop the last commits.
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
  CREATE TABLE op_batch (sig BLOB PRIMARY KEY, first INTEGER NOT NULL, digests BLOB NOT NULL, live INTEGER NOT NULL);
  CREATE TABLE meta (name TEXT PRIMARY KEY, value);
  INSERT INTO meta (name, value) VALUES ('schema_version', ${SCHEMA_VERSION}), ('clock_wall', 0), ('clock_logical', 0),
    ('keys', 0), ('tombstones', 0);
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
  private tally: StoreCounts
  /** The WAL file, fsynced by `sync()` and `syncNow()` in 'group' mode. */
  private readonly wal?: number

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
    this.tally = { keys: this.sql.meta.get('keys') as number, tombstones: this.sql.meta.get('tombstones') as number }
    // the reads above opened the WAL, so the file exists; SQLite resets and truncates it in place, never replaces it while open
    if (durability === 'group') this.wal = openSync(`${path}-wal`, 'r+')
    this.applyAll = db.transaction((ops: Op[]) => this.applyInTransaction(ops))
    this.mergeAll = db.transaction((theirs: VersionVector) => {
      for (const [origin, seq] of Object.entries(theirs)) {
        if (seq > this.contiguous(origin)) this.advance(origin, seq)
      }
    })
    this.collectAll = db.transaction((options: CollectOptions) => {
      const batches = new BatchRefs(this.sql)
      let removed = 0
      for (const op of this.sql.tombstonesBefore.all(Math.max(options.stableBefore, options.anyBefore))) {
        const stable = op.wall < options.stableBefore && op.seq <= seqOf(options.stable, op.origin)
        if (!stable && op.wall >= options.anyBefore) continue
        this.sql.remove.run(op.key)
        this.sql.raiseGc.run(op.origin, op.seq)
        batches.release(op.sig)
        this.tally.tombstones--
        removed++
      }
      batches.flush()
      this.saveTally()
      return removed
    })
    this.pruneAll = db.transaction((present: Set<string>, covered: VersionVector) => {
      const batches = new BatchRefs(this.sql)
      const removed = this.sql.all.all().filter(row => !present.has(row.key) && row.seq <= seqOf(covered, row.origin))
      for (const row of removed) {
        this.sql.remove.run(row.key)
        batches.release(row.sig)
        this.count(row.value, -1)
      }
      batches.flush()
      this.saveTally()
      return removed.map(row => fromRow(row))
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
      ? this.sql.listAfter.all({ prefix, after, limit }).map(row => fromRow(row))
      : this.sql.listFrom.all({ prefix, limit }).map(row => fromRow(row))
  }

  apply (ops: Op[]): Op[] {
    const before = this.latest
    try {
      return this.keepingTally(() => this.applyAll(ops))
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

  /** Pages end at batch boundaries where they can, so a batch's proof travels once, without digests. */
  missing (theirs: VersionVector, options: MissingOptions): MissingPage {
    const { limit, cursor } = options
    const proofs = new Map<string, OpProof>()
    const ops: Op[] = []
    for (const origin of this.sql.origins.all({ from: cursor?.origin ?? '' })) {
      const after = Math.max(seqOf(theirs, origin), origin === cursor?.origin ? cursor.seq : 0)
      for (const row of this.sql.originOps.all({ origin, after, limit: limit - ops.length })) ops.push(this.withProof(row, proofs))
      if (ops.length >= limit) break
    }
    const last = ops.at(-1)
    if (ops.length >= limit && last?.proof != null) {
      const end = last.proof.first + proofSize(last.proof) - 1
      if (end > last.seq) for (const row of this.sql.originOps.all({ origin: last.origin, after: last.seq, limit: end - last.seq })) {
        if (row.seq > end) break
        ops.push(this.withProof(row, proofs))
      }
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
    return this.keepingTally(() => this.collectAll(options))
  }

  pruneAbsent (present: Set<string>, covered: VersionVector): Op[] {
    return this.keepingTally(() => this.pruneAll(present, covered))
  }

  /** Runs a transaction that changes the tallies; a rolled-back one leaves them as they were. */
  private keepingTally<T> (transaction: () => T): T {
    const before = { ...this.tally }
    try {
      return transaction()
    } catch (err) {
      this.tally = before
      throw err
    }
  }

  clock (): Stamp {
    return { ...this.latest }
  }

  counts (): StoreCounts {
    return { ...this.tally }
  }

  /**
   * Resolves once every commit made so far is on disk: at once in 'full'
   * mode (each commit already was) and in 'normal' mode (which promises
   * nothing); in 'group' mode after an fsync of the WAL on libuv's thread
   * pool, so the event loop goes on meanwhile.
   */
  async sync (): Promise<void> {
    const wal = this.wal
    if (wal === undefined) return
    await new Promise<void>((resolve, reject) => { fsync(wal, err => { if (err != null) reject(err); else resolve() }) })
  }

  /** `sync()` on this thread: no hand-off to the thread pool and back, for a caller that has nothing else to do meanwhile. */
  syncNow (): void {
    if (this.wal !== undefined) fsyncSync(this.wal)
  }

  close (): void {
    this.db.close()
    if (this.wal !== undefined) closeSync(this.wal)
  }

  private applyInTransaction (ops: Op[]): Op[] {
    const changed: Op[] = []
    const batches = new BatchRefs(this.sql)
    const seqs = new Map<string, number[]>()
    for (const op of ops) {
      const current = this.sql.get.get(op.key)
      if (current === undefined || isNewer(op, asRanked(current))) {
        this.sql.put.run({ key: op.key, value: op.value, wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq, sig: op.proof?.sig ?? null })
        if (current !== undefined) {
          batches.release(current.sig)
          this.count(current.value, -1)
        }
        batches.hold(op)
        this.count(op.value, 1)
        changed.push(op)
      }
      const list = seqs.get(op.origin)
      if (list == null) seqs.set(op.origin, [op.seq])
      else list.push(op.seq)
      if (compareStamps(op, this.latest) > 0) this.latest = { wall: op.wall, logical: op.logical }
    }
    for (const [origin, list] of seqs) this.record(origin, list)
    batches.flush()
    this.saveTally()
    return changed
  }

  /** A row as an op with its proof; ops of one batch share one proof object (read once per call). */
  private withProof (row: Row, proofs: Map<string, OpProof | null>): Op {
    const op = fromRow(row)
    if (row.sig === null) return op
    const id = Buffer.from(row.sig.buffer, row.sig.byteOffset, row.sig.length).toString('base64')
    let proof = proofs.get(id)
    if (proof === undefined) {
      const batch = this.sql.batch.get(row.sig)
      proofs.set(id, (proof = batch == null ? null : { sig: row.sig, first: batch.first, digests: batch.digests }))
    }
    // no row: a one-op batch, whose only digest is its own
    op.proof = proof ?? { sig: row.sig, first: row.seq, digests: opDigest(op) }
    return op
  }

  private count (value: Uint8Array | null, delta: number): void {
    if (value === null) this.tally.tombstones += delta
    else this.tally.keys += delta
  }

  private saveTally (): void {
    this.sql.setMeta.run({ ...this.latest, ...this.tally })
  }

  private contiguous (origin: string): number {
    return this.sql.contiguous.get(origin) ?? 0
  }

  /** Records that ops `seqs` of `origin` are held: the vector moves once per origin, not once per op. */
  private record (origin: string, seqs: number[]): void {
    if (seqs.length > 1) seqs.sort((a, b) => a - b)
    const start = this.contiguous(origin)
    let contiguous = start
    for (const seq of seqs) {
      if (seq === contiguous + 1) contiguous = seq
      // sorted: once a seq leaves a gap, every later one lies beyond it too
      else if (seq > contiguous) this.sql.addAhead.run(origin, seq)
    }
    if (contiguous > start) this.advance(origin, contiguous)
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

/** A `kv_store` row. */
interface Row {
  key: string
  value: Uint8Array | null
  wall: number
  logical: number
  origin: string
  seq: number
  sig: Uint8Array | null
}

/** A row as an op without its proof (what `get` and `list` return). */
function fromRow (row: Row): Op
function fromRow (row: Row | undefined): Op | undefined
function fromRow (row: Row | undefined): Op | undefined {
  if (row == null) return undefined
  return { key: row.key, value: row.value, wall: row.wall, logical: row.logical, origin: row.origin, seq: row.seq }
}

/** A row as what `isNewer` ranks: its version, value and batch signature. */
function asRanked (row: Row): Op {
  const op = fromRow(row)
  if (row.sig !== null) op.proof = { sig: row.sig, first: row.seq, digests: new Uint8Array(0) }
  return op
}


/** Whether a proof needs an `op_batch` row: all but a one-op batch whose digest is its op's own. */
function needsRow (op: Op, proof: OpProof): boolean {
  return proof.digests.length !== DIGEST_BYTES || proof.first !== op.seq
}

/**
 * Changes to `op_batch` reference counts within one transaction, written
 * once per batch at the end instead of once per op.
 */
class BatchRefs {
  private readonly sql: Statements
  private readonly deltas = new Map<string, { sig: Uint8Array, proof?: OpProof, delta: number }>()

  constructor (sql: Statements) {
    this.sql = sql
  }

  /** The entry of the proof `hold` saw last: a batch's ops arrive together. */
  private last?: { proof: OpProof, entry: { sig: Uint8Array, proof?: OpProof, delta: number } }

  /** A stored op now points at its proof's batch. */
  hold (op: Op): void {
    const proof = op.proof
    if (proof == null || !needsRow(op, proof)) return
    if (this.last?.proof !== proof) this.last = { proof, entry: this.entry(proof.sig) }
    this.last.entry.proof = proof
    this.last.entry.delta++
  }

  /** A stored op that pointed at batch `sig` was replaced or removed. */
  release (sig: Uint8Array | null): void {
    if (sig !== null) this.entry(sig).delta--
  }

  flush (): void {
    for (const { sig, proof, delta } of this.deltas.values()) {
      if (delta === 0) continue
      if (proof != null && delta > 0) this.sql.holdBatch.run({ sig, first: proof.first, digests: proof.digests, delta })
      else this.sql.releaseBatch.run({ sig, delta })
      if (delta < 0) this.sql.dropBatch.run(sig)
    }
    this.deltas.clear()
    this.last = undefined
  }

  private entry (sig: Uint8Array): { sig: Uint8Array, proof?: OpProof, delta: number } {
    const id = Buffer.from(sig).toString('base64')
    let entry = this.deltas.get(id)
    if (entry == null) this.deltas.set(id, (entry = { sig, delta: 0 }))
    return entry
  }
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

type Statements = ReturnType<typeof prepareStatements>

function prepareStatements (db: Database.Database) {
  return {
    get: db.prepare<[string], Row>(`SELECT ${OP_COLUMNS} FROM kv_store WHERE key = ?`),
    put: db.prepare<[Row]>(`INSERT INTO kv_store (${OP_COLUMNS}) VALUES (:key, :value, :wall, :logical, :origin, :seq, :sig)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, wall = excluded.wall, logical = excluded.logical,
        origin = excluded.origin, seq = excluded.seq, sig = excluded.sig`),
    listFrom: db.prepare<[{ prefix: string, limit: number }], Row>(`SELECT ${OP_COLUMNS} FROM kv_store
      WHERE key >= :prefix AND key < ${PREFIX_END} AND value IS NOT NULL ORDER BY key LIMIT :limit`),
    listAfter: db.prepare<[{ prefix: string, after: string, limit: number }], Row>(`SELECT ${OP_COLUMNS} FROM kv_store
      WHERE key > :after AND key < ${PREFIX_END} AND value IS NOT NULL ORDER BY key LIMIT :limit`),
    origins: db.prepare<[{ from: string }], string>(`SELECT origin FROM version_vector WHERE origin >= :from
      UNION SELECT origin FROM vector_ahead WHERE origin >= :from ORDER BY origin`).pluck(),
    originOps: db.prepare<[{ origin: string, after: number, limit: number }], Row>(`SELECT ${OP_COLUMNS} FROM kv_store
      WHERE origin = :origin AND seq > :after ORDER BY seq LIMIT :limit`),
    batch: db.prepare<[Uint8Array], { first: number, digests: Uint8Array }>('SELECT first, digests FROM op_batch WHERE sig = ?'),
    holdBatch: db.prepare<[{ sig: Uint8Array, first: number, digests: Uint8Array, delta: number }]>(`INSERT INTO op_batch (sig, first, digests, live)
      VALUES (:sig, :first, :digests, :delta) ON CONFLICT (sig) DO UPDATE SET live = live + excluded.live`),
    releaseBatch: db.prepare<[{ sig: Uint8Array, delta: number }]>('UPDATE op_batch SET live = live + :delta WHERE sig = :sig'),
    dropBatch: db.prepare<[Uint8Array]>('DELETE FROM op_batch WHERE sig = ? AND live <= 0'),
    vector: db.prepare<[], [string, number]>('SELECT origin, seq FROM version_vector'),
    contiguous: db.prepare<[string], number>('SELECT seq FROM version_vector WHERE origin = ?').pluck(),
    setContiguous: db.prepare<[string, number]>(`INSERT INTO version_vector (origin, seq) VALUES (?, ?)
      ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq`),
    addAhead: db.prepare<[string, number]>('INSERT OR IGNORE INTO vector_ahead (origin, seq) VALUES (?, ?)'),
    aheadAfter: db.prepare<[string, number], number>('SELECT seq FROM vector_ahead WHERE origin = ? AND seq > ? ORDER BY seq').pluck(),
    dropAhead: db.prepare<[string, number]>('DELETE FROM vector_ahead WHERE origin = ? AND seq <= ?'),
    meta: db.prepare<[string], unknown>('SELECT value FROM meta WHERE name = ?').pluck(),
    all: db.prepare<[], Row>(`SELECT ${OP_COLUMNS} FROM kv_store`),
    remove: db.prepare<[string]>('DELETE FROM kv_store WHERE key = ?'),
    tombstonesBefore: db.prepare<[number], Row>(`SELECT ${OP_COLUMNS} FROM kv_store WHERE value IS NULL AND wall < ?`),
    gcVector: db.prepare<[], [string, number]>('SELECT origin, seq FROM gc_vector'),
    raiseGc: db.prepare<[string, number]>(`INSERT INTO gc_vector (origin, seq) VALUES (?, ?)
      ON CONFLICT (origin) DO UPDATE SET seq = max(seq, excluded.seq)`),
    setMeta: db.prepare<[Stamp & StoreCounts]>(`UPDATE meta SET value = CASE name WHEN 'clock_wall' THEN CAST(:wall AS INTEGER)
      WHEN 'clock_logical' THEN CAST(:logical AS INTEGER) WHEN 'keys' THEN CAST(:keys AS INTEGER) ELSE CAST(:tombstones AS INTEGER) END
      WHERE name IN ('clock_wall', 'clock_logical', 'keys', 'tombstones')`)
  }
}
