/**
 * A `Store` in one SQLite file (better-sqlite3, WAL mode).
 *
 * `kv_store` holds only replicated data, one row per key with the winning op,
 * so two replicas that hold the same ops hold byte-identical rows. Ops that
 * lost wait in `op_history` until every member holds them; `version_vector`
 * holds each origin's held prefix and collection floor. `kv_store.sig` and
 * `op_history.sig` name the signed batch an op was written in; the batch's
 * digests live in `op_batch` while any of its ops is held.
 */
import type Database from 'better-sqlite3'
import { compareStamps } from '../compare.js'
import { isReserved } from '../keys.js'
import { BatchRefs, dropHistory } from './batch-refs.js'
import { ChangeCursors } from './change-cursors.js'
import { RowCursors, savedMarks } from './change-entries.js'
import { digestsIn, opsOf, stampAt } from './origin-reads.js'
import { proveOwn, signedUpTo } from './own-proofs.js'
import { backupDatabase, openDatabase, type Durability, type SqliteStoreInit } from './sqlite-file.js'
import { forgetStaged, fromRow, headOfRow, listRows, opParams, originOfRow, ranked, stagedOps, stageOps, toRow, vectorRowOf } from './sqlite-rows.js'
import { SCHEMA_VERSION, prepareStatements, type Statements } from './sqlite-schema.js'
import { SqlitePast } from './sqlite-past.js'
import { WalFile } from './wal-file.js'
import type { ChangeMarks, ChangeRecord, Head, HeldOp, Op, OriginState, RowHead, RowOptions, Stamp, Store, StoreCounts } from '../types.js'

export { SCHEMA_VERSION }
export type { Durability, SqliteStoreInit }

export class SqliteStore implements Store {
  readonly path: string
  readonly past: SqlitePast
  private readonly db: Database.Database
  private readonly mode: Durability
  private readonly sql: Statements
  private readonly refs: BatchRefs
  private readonly commit: (fn: () => unknown) => unknown
  private latest: Stamp
  private tally: StoreCounts
  private readonly cursors: ChangeCursors
  /** The current transaction has written something. */
  private changed = false
  /** The WAL file ('group' and 'normal' on disk), fsynced by `sync()` and `syncNow()`; a write can ride its next fsync (`syncedAfter`). */
  readonly wal?: WalFile

  /**
   * Opens `path` (or ':memory:'), creating the schema in a new or empty file.
   * Throws `StoreVersionError` or `ForeignDatabaseError`, without changing the
   * file, when it holds something else, and `DamagedDatabaseError` when SQLite
   * finds our own file damaged.
   */
  static open (path: string, init: SqliteStoreInit = {}): SqliteStore {
    const durability = init.durability ?? 'full'
    return new SqliteStore(openDatabase(path, durability === 'full', init.checkpoints ?? true), path, durability)
  }

  private constructor (db: Database.Database, path: string, durability: Durability) {
    this.db = db
    this.path = path
    this.mode = durability
    this.sql = prepareStatements(db)
    this.refs = new BatchRefs(this.sql)
    this.latest = { wall: Number(this.sql.meta.get('clock_wall')?.value), logical: Number(this.sql.meta.get('clock_logical')?.value) }
    this.tally = { keys: Number(this.sql.meta.get('keys')?.value), tombstones: Number(this.sql.meta.get('tombstones')?.value) }
    this.cursors = new ChangeCursors(new RowCursors(this.sql), savedMarks(this.sql))
    this.past = new SqlitePast({ db, mutate: fn => this.mutate(fn), claim: () => this.cursors.claim() })
    // the reads above opened the WAL, so the file exists
    if (durability !== 'full' && path !== ':memory:') this.wal = WalFile.open(path)
    this.commit = db.transaction((fn: () => unknown) => {
      this.changed = false
      const result = fn()
      // a transaction that only read writes nothing
      if (this.changed) {
        this.refs.flush()
        const marks = this.cursors.save()
        this.sql.setMeta.run({ ...this.latest, ...this.tally, cursor: marks.latest })
        if (marks.floor !== undefined) this.sql.setMetaValue.run('change_floor', String(marks.floor))
      }
      return result
    })
  }

  get durability (): Durability {
    return this.mode
  }

  transaction<T> (fn: () => T): T {
    if (this.db.inTransaction) return fn()
    const tally = { ...this.tally }
    const latest = this.latest
    const marks = this.cursors.checkpoint()
    try {
      return this.commit(fn) as T
    } catch (err) {
      this.refs.discard()
      this.tally = tally
      this.latest = latest
      marks()
      throw err
    }
  }

  row (key: string): Op | undefined {
    const row = this.sql.get.get(key)
    return row === undefined ? undefined : ranked(row)
  }

  rowsAt (keys: string[]): Map<string, RowHead> {
    const heads = new Map<string, RowHead>()
    for (const row of this.sql.headsAt.all(JSON.stringify(keys))) heads.set(row[0], headOfRow(row))
    return heads
  }

  rows (options: RowOptions = {}): Op[] {
    return listRows(this.sql, options)
  }

  put (op: Op, digest: Uint8Array): void {
    this.mutate(() => {
      this.refs.hold(op)
      this.sql.put.run(this.cursors.put(op) ?? null, ...opParams(op, digest))
      this.count(op.key, op.value !== null, 1)
      this.see(op)
    })
  }

  supersede (row: Head): void {
    this.mutate(() => {
      // no delete: the `put` that follows updates the row in place (one write of the table and its key index, not two)
      this.sql.supersede.run(row.key)
      this.count(row.key, row.live, -1)
    })
  }

  addHistory (op: Op, digest: Uint8Array): void {
    this.mutate(() => {
      if (this.sql.addHistory.run(...opParams(op, digest)).changes > 0) this.refs.hold(op)
      this.see(op)
    })
  }

  remove (row: Head, replaced = false): void {
    this.mutate(() => {
      this.cursors.remove(row.key, row.live, replaced) // first: the row holds the cursor
      this.sql.remove.run(row.key)
      this.refs.release(row.sig)
      this.count(row.key, row.live, -1)
    })
  }

  prove (ops: Op[]): void {
    this.mutate(() => { proveOwn(this.sql, this.refs, ops) })
  }

  signedUpTo (origin: string): number {
    return signedUpTo(this.sql, origin)
  }

  // no transaction needed: nothing else runs on this connection between these synchronous reads
  opsOf (origin: string, after: number, limit: number, maxBytes?: number): HeldOp[] {
    return opsOf(this.sql, origin, after, limit, maxBytes)
  }

  digestsAt (origin: string, seq: number): Uint8Array[] {
    return this.digestsIn(origin, seq - 1, seq)
  }

  digestsIn (origin: string, after: number, upTo: number): Uint8Array[] {
    return digestsIn(this.sql, origin, after, upTo)
  }

  stampAt (origin: string, seq: number): Stamp | undefined {
    return stampAt(this.sql, origin, seq)
  }

  supersededOf (origin: string, key: string, limit: number): Op[] {
    return this.sql.historyOfKey.all({ origin, key, limit }).map(row => fromRow(row))
  }

  dropHistory (origin: string, upTo: number): number {
    return this.mutate(() => dropHistory(this.sql, this.refs, origin, upTo))
  }

  stage (ops: Op[]): void {
    this.mutate(() => { stageOps(this.sql, ops) })
  }

  staged (after: string | undefined, limit: number): Op[] {
    return stagedOps(this.sql, after === undefined ? this.sql.stagedFrom.all({ limit }) : this.sql.stagedAfter.all({ after, limit }))
  }

  clearStaged (): void {
    // nothing staged (the usual case): no write at all
    if (this.sql.anyStaged.get() === undefined) return
    this.mutate(() => { this.sql.clearStaged.run(); this.sql.clearStagedBatches.run(); forgetStaged(this.sql) })
  }

  tombstones (origin: string, upTo: number, beforeWall: number, expiredBefore: number): Op[] {
    return this.sql.tombstones.all({ origin, upTo, before: beforeWall, expiredBefore }).map(row => ranked(row))
  }

  expiring (after: number, upTo: number, limit: number): Op[] {
    return this.sql.expiring.all({ after, upTo, limit }).map(row => ranked(row))
  }

  touch (op: Op): void {
    // a user key's row moves to its new cursor
    this.mutate(() => { const cursor = this.cursors.put(op); if (cursor !== undefined) this.sql.renumber.run(cursor, op.key) })
  }

  origins (): Map<string, OriginState> {
    return new Map(this.sql.vector.all().map(row => [row.origin, originOfRow(row)]))
  }

  setOrigin (origin: string, state: OriginState): void {
    this.mutate(() => { this.sql.setVector.run(vectorRowOf(origin, state)) })
  }

  clock (): Stamp {
    return { ...this.latest }
  }

  setClock (stamp: Stamp): void {
    this.mutate(() => { this.see(stamp) })
  }

  changes (after: number, limit: number): ChangeRecord[] {
    return this.sql.changesAfter.all({ after: Math.max(after, 0), limit }).map(row => ({ cursor: row.cursor, op: fromRow(row) }))
  }

  changeMarks (): ChangeMarks {
    return this.cursors.marks
  }

  cursorOf (op: Op): number | undefined {
    return this.cursors.cursorOf(op)
  }

  watch (prefix: string, changed: () => void): () => void {
    return this.cursors.watch(prefix, changed)
  }

  /** For a restored copy: no watcher of the original resumes here from a cursor (see `ChangeCursors.restart`). */
  restartChanges (): void {
    this.mutate(() => { this.cursors.restart() })
  }

  meta (name: string): string | undefined {
    const value = this.sql.meta.get(name)?.value
    return value == null ? undefined : String(value)
  }

  setMeta (name: string, value: string): void {
    this.mutate(() => { this.sql.setMetaValue.run(name, value) })
  }

  counts (): StoreCounts {
    return { ...this.tally }
  }

  /**
   * Resolves once every commit made so far is on disk: at once in 'full'
   * mode (each commit already was) and in memory; otherwise after an fsync
   * of the WAL on libuv's thread pool, so the event loop goes on meanwhile.
   */
  async sync (): Promise<void> {
    await this.wal?.sync()
  }

  /** `sync()` on this thread: no hand-off to the thread pool and back, for a caller that has nothing else to do meanwhile. */
  syncNow (): void {
    this.wal?.syncNow()
  }

  /** A consistent copy of the database in a new file, `dest`, as `backupDatabase` describes; resolves to its pages. */
  async backup (dest: string, stamp: Record<string, string>, progress?: (done: number, total: number) => void): Promise<number> {
    return await backupDatabase(this.db, dest, stamp, progress)
  }

  close (): void {
    this.db.close()
    this.wal?.close()
  }

  /** Runs a mutation inside the current transaction, or in one of its own. */
  private mutate<T> (fn: () => T): T {
    if (!this.db.inTransaction) return this.transaction(() => this.mutate(fn))
    this.changed = true
    return fn()
  }

  private see (stamp: Stamp): void {
    if (compareStamps(stamp, this.latest) > 0) this.latest = { wall: stamp.wall, logical: stamp.logical }
  }

  private count (key: string, live: boolean, delta: number): void {
    if (isReserved(key)) return
    if (live) this.tally.keys += delta
    else this.tally.tombstones += delta
  }
}
