/**
 * The SQLite file's schema (version 10) and the prepared statements the store
 * runs. `kv_store` holds exactly the replicated state, one row per key;
 * everything else is this replica's bookkeeping.
 *
 * Version 5 added the value type (`type`: 'text', 'json' or 'binary') to
 * `kv_store`, `op_history` and `snapshot_stage`; version 6 the change cursors
 * (`changes`, see `Store.changes`); version 7 the expiry (`expires`, an HLC
 * wall time in ms, NULL for none) to the same three tables, with an index
 * for the expiry sweep; version 8 what a writer had seen (`seen_*`, see
 * `Op.seen`) on every table that holds ops, and the past versions of keys
 * (`key_history`, see `PastStore`); version 9 the refresh bit (`refresh`, 1
 * or NULL, see `Op.refresh`) on the tables that hold ops (`key_history`
 * never keeps a refresh); version 10 the proofs of staged snapshot rows, once
 * a batch (`snapshot_batch`), where each row had carried its batch's digests;
 * version 11 keeps each user key's change cursor as its `kv_store` row's
 * rowid (see change-entries.ts), not in a `changes` table. The rowid is not
 * a column: `SELECT *` and the rows' digest leave it out, so replicas' rows
 * stay byte-identical. `MIGRATIONS` brings a version 4 to 10 file up to date
 * when it opens.
 */
import type Database from 'better-sqlite3'
import { KEY_HISTORY, SNAPSHOT_BATCH } from './sqlite-migrations.js'
import type { OpParams } from './sqlite-rows.js'
import type { Stamp, StoreCounts, ValueType } from '../types.js'

export const SCHEMA_VERSION = 11

export { MIGRATIONS } from './sqlite-migrations.js'

export const SCHEMA = `
  CREATE TABLE kv_store (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB,
    wall INTEGER NOT NULL,
    logical INTEGER NOT NULL,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sig BLOB,
    digest BLOB NOT NULL,
    type TEXT NOT NULL DEFAULT 'text',
    expires INTEGER,
    seen_wall INTEGER,
    seen_logical INTEGER,
    seen_origin TEXT,
    refresh INTEGER
  );
  CREATE INDEX kv_store_origin_seq ON kv_store (origin, seq);
  CREATE INDEX kv_store_expires ON kv_store (expires) WHERE expires IS NOT NULL;
  CREATE TABLE op_history (
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    digest BLOB NOT NULL,
    key TEXT NOT NULL,
    value BLOB,
    wall INTEGER NOT NULL,
    logical INTEGER NOT NULL,
    sig BLOB,
    type TEXT NOT NULL DEFAULT 'text',
    expires INTEGER,
    seen_wall INTEGER,
    seen_logical INTEGER,
    seen_origin TEXT,
    refresh INTEGER,
    PRIMARY KEY (origin, seq, digest)
  ) WITHOUT ROWID;
  CREATE TABLE version_vector (
    origin TEXT PRIMARY KEY,
    seq INTEGER NOT NULL, wall INTEGER NOT NULL, logical INTEGER NOT NULL, acc BLOB NOT NULL,
    floor INTEGER NOT NULL, floor_wall INTEGER NOT NULL, floor_logical INTEGER NOT NULL, floor_acc BLOB NOT NULL
  );
  CREATE TABLE op_batch (sig BLOB PRIMARY KEY, first INTEGER NOT NULL, digests BLOB NOT NULL, live INTEGER NOT NULL);
  CREATE TABLE meta (name TEXT PRIMARY KEY, value);
  CREATE TABLE snapshot_stage (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB,
    wall INTEGER NOT NULL,
    logical INTEGER NOT NULL,
    origin TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sig BLOB,
    first INTEGER,
    digests BLOB,
    type TEXT NOT NULL DEFAULT 'text',
    expires INTEGER,
    seen_wall INTEGER,
    seen_logical INTEGER,
    seen_origin TEXT,
    refresh INTEGER
  );
  ${SNAPSHOT_BATCH}
  ${KEY_HISTORY}
  INSERT INTO meta (name, value) VALUES ('schema_version', ${SCHEMA_VERSION}), ('clock_wall', 0), ('clock_logical', 0),
    ('keys', 0), ('tombstones', 0), ('change_cursor', 0), ('change_floor', 0);
`

/** A `kv_store` row. */
export interface Row {
  key: string
  value: Uint8Array | null
  wall: number
  logical: number
  origin: string
  seq: number
  sig: Uint8Array | null
  /** The value type ('text' for a tombstone). */
  type: ValueType
  /** When the value expires (HLC wall ms), or null. */
  expires: number | null
  /** `Op.seen`, all three NULL when absent. */
  seen_wall: number | null
  seen_logical: number | null
  seen_origin: string | null
  /** 1 for a refresh (`Op.refresh`), else null (absent from `key_history`, which keeps none). */
  refresh?: number | null
}

/** A row's head (`Store.rowsAt`), read raw (an array, not an object: ~1 µs less a row): `pastless` is 0 or 1. */
export type HeadRow = [key: string, value: Uint8Array | null, type: ValueType, wall: number, logical: number, origin: string, seq: number,
  sig: Uint8Array | null, seenWall: number | null, seenLogical: number | null, seenOrigin: string | null, refresh: number | null, pastless: number]

/** A `snapshot_stage` row: an op and its batch's signature; `first` and `digests` only in rows staged before version 10. */
export interface StagedRow extends Row {
  first: number | null
  digests: Uint8Array | null
}

/** An `op_history` row. */
export interface HistoryRow extends Row {
  digest: Uint8Array
}

export interface VectorRow {
  origin: string
  seq: number
  wall: number
  logical: number
  acc: Uint8Array
  floor: number
  floor_wall: number
  floor_logical: number
  floor_acc: Uint8Array
}

const OP_COLUMNS = 'key, value, wall, logical, origin, seq, sig, type, expires, seen_wall, seen_logical, seen_origin, refresh'
const OP_PARAMS = ':key, :value, :wall, :logical, :origin, :seq, :sig, :type, :expires, :seen_wall, :seen_logical, :seen_origin, :refresh'
/** `OP_COLUMNS` as positional parameters (`OpParams`, in sqlite-rows.ts). */
const OP_PLACES = OP_COLUMNS.split(', ').map(() => '?').join(', ')
/** The columns an upsert sets besides the version's own. */
const LATER_SET = 'expires = excluded.expires, seen_wall = excluded.seen_wall, seen_logical = excluded.seen_logical, seen_origin = excluded.seen_origin, refresh = excluded.refresh'
/** Above every valid UTF-8 lead byte, so `prefix || 0xF5` bounds every key that starts with `prefix`. */
const PREFIX_END = `:prefix || CAST(x'F5' AS TEXT)`

/** `now`: the HLC wall time a listing of live rows reads at (an expired value is left out). */
interface ListParams { prefix: string, from: string, limit: number, tombstones: number, now: number }
/** A live row, or any row when tombstones are asked for. */
const SHOWN = '(:tombstones OR (value IS NOT NULL AND (expires IS NULL OR expires > :now)))'

/** The part of a better-sqlite3 statement the store uses, under a name declaration files can print. */
export interface Statement<P extends unknown[], R> {
  run(...params: P): Database.RunResult
  get(...params: P): R | undefined
  all(...params: P): R[]
  /** One row at a time, read from the file as it is taken; the rows not taken are never read (`return()` ends it). */
  iterate(...params: P): IterableIterator<R>
}

export type Statements = ReturnType<typeof prepareStatements>

export function prepareStatements (db: Database.Database) {
  const prepare = <P extends unknown[], R = unknown>(sql: string): Statement<P, R> => db.prepare<P, R>(sql)
  // rows as arrays, in column order
  const prepareRaw = <P extends unknown[], R extends unknown[]>(sql: string): Statement<P, R> => db.prepare<P, R>(sql).raw(true)
  return {
    get: prepare<[string], Row>(`SELECT ${OP_COLUMNS} FROM kv_store WHERE key = ?`),
    // under its change cursor (a rowid), or with none (a reserved key) below every row's, where a row already there stays
    put: prepare<[number | null, ...OpParams]>(`INSERT INTO kv_store (rowid, ${OP_COLUMNS}, digest)
      VALUES (coalesce(?, (SELECT min(coalesce(min(rowid), 1), 1) - 1 FROM kv_store)), ${OP_PLACES}, ?)
      ON CONFLICT (key) DO UPDATE SET rowid = iif(excluded.rowid > 0, excluded.rowid, rowid), value = excluded.value, wall = excluded.wall, logical = excluded.logical,
        origin = excluded.origin, seq = excluded.seq, sig = excluded.sig, type = excluded.type, digest = excluded.digest, ${LATER_SET}`),
    // the row moves to history inside SQLite: its value never comes out to be bound back in
    supersede: prepare<[string]>(`INSERT OR IGNORE INTO op_history (${OP_COLUMNS}, digest)
      SELECT ${OP_COLUMNS}, digest FROM kv_store WHERE key = ?`),
    remove: prepare<[string]>('DELETE FROM kv_store WHERE key = ?'),
    // a key's change cursor (see change-entries.ts): above zero, else it has none
    rowCursor: prepare<[string], { cursor: number }>('SELECT rowid AS cursor FROM kv_store WHERE key = ?'),
    renumber: prepare<[number, string]>('UPDATE kv_store SET rowid = ? WHERE key = ?'),
    topCursor: prepare<[], { cursor: number | null }>('SELECT max(rowid) AS cursor FROM kv_store'),
    // conflicts are numbered by the same counter (the index on conflict answers it)
    topConflict: prepare<[], { cursor: number | null }>('SELECT max(conflict) AS cursor FROM key_history WHERE conflict IS NOT NULL'),
    // with each head, whether its key's history is empty (an index probe each): applying then skips its history queries.
    // The value always (it becomes the past version of a key with none): a CASE on that ran the two probes twice
    headsAt: prepareRaw<[string], HeadRow>(`SELECT key, value, type, wall, logical, origin, seq, sig, seen_wall, seen_logical, seen_origin, refresh,
      NOT EXISTS (SELECT 1 FROM key_history h WHERE h.key = kv_store.key) AND NOT EXISTS (SELECT 1 FROM key_history_floor f WHERE f.key = kv_store.key)
      FROM kv_store WHERE key IN (SELECT value FROM json_each(?))`),
    // one lower bound (`key >= :from` or `key > :from`) so SQLite seeks straight to it
    listFrom: prepare<[ListParams], Row>(`SELECT ${OP_COLUMNS} FROM kv_store
      WHERE key >= :from AND key < ${PREFIX_END} AND ${SHOWN} ORDER BY key LIMIT :limit`),
    listAfter: prepare<[ListParams], Row>(`SELECT ${OP_COLUMNS} FROM kv_store
      WHERE key > :from AND key < ${PREFIX_END} AND ${SHOWN} ORDER BY key LIMIT :limit`),
    rowsOf: prepare<[{ origin: string, after: number, limit: number }], Row>(`SELECT ${OP_COLUMNS} FROM kv_store
      WHERE origin = :origin AND seq > :after ORDER BY seq LIMIT :limit`),
    rowsIn: prepare<[{ origin: string, after: number, upTo: number }], Row>(`SELECT ${OP_COLUMNS} FROM kv_store
      WHERE origin = :origin AND seq > :after AND seq <= :upTo`),
    addHistory: prepare<OpParams>(`INSERT OR IGNORE INTO op_history (${OP_COLUMNS}, digest) VALUES (${OP_PLACES}, ?)`),
    rowDigestsIn: prepare<[{ origin: string, after: number, upTo: number }], { digest: Uint8Array }>(`SELECT digest FROM kv_store
      WHERE origin = :origin AND seq > :after AND seq <= :upTo`),
    historyDigestsIn: prepare<[{ origin: string, after: number, upTo: number }], { digest: Uint8Array }>(`SELECT digest FROM op_history
      WHERE origin = :origin AND seq > :after AND seq <= :upTo`),
    historyOf: prepare<[{ origin: string, after: number, limit: number }], HistoryRow>(`SELECT ${OP_COLUMNS}, digest FROM op_history
      WHERE origin = :origin AND seq > :after ORDER BY seq LIMIT :limit`),
    historyIn: prepare<[{ origin: string, after: number, upTo: number }], HistoryRow>(`SELECT ${OP_COLUMNS}, digest FROM op_history
      WHERE origin = :origin AND seq > :after AND seq <= :upTo`),
    historyOfKey: prepare<[{ origin: string, key: string, limit: number }], HistoryRow>(`SELECT ${OP_COLUMNS}, digest FROM op_history
      WHERE origin = :origin AND key = :key ORDER BY seq DESC LIMIT :limit`),
    historyUpTo: prepare<[{ origin: string, upTo: number }], { sig: Uint8Array | null }>('SELECT sig FROM op_history WHERE origin = :origin AND seq <= :upTo'),
    dropHistory: prepare<[{ origin: string, upTo: number }]>('DELETE FROM op_history WHERE origin = :origin AND seq <= :upTo'),
    tombstones: prepare<[{ origin: string, upTo: number, before: number, expiredBefore: number }], Row>(`SELECT ${OP_COLUMNS} FROM kv_store
      WHERE origin = :origin AND seq <= :upTo AND ((value IS NULL AND wall < :before) OR expires < :expiredBefore)`),
    expiring: prepare<[{ after: number, upTo: number, limit: number }], Row>(`SELECT ${OP_COLUMNS} FROM kv_store
      WHERE expires > :after AND expires <= :upTo AND value IS NOT NULL ORDER BY expires LIMIT :limit`),
    batch: prepare<[Uint8Array], { first: number, digests: Uint8Array }>('SELECT first, digests FROM op_batch WHERE sig = ?'),
    // an own op signed after its commit (`Store.prove`): only while it has no signature
    // positional: sig, key, origin, seq
    proveRow: prepare<[Uint8Array, string, string, number]>('UPDATE kv_store SET sig = ? WHERE key = ? AND origin = ? AND seq = ? AND sig IS NULL'),
    // positional: sig, origin, seq, digest
    proveHistory: prepare<[Uint8Array, string, number, Uint8Array]>('UPDATE op_history SET sig = ? WHERE origin = ? AND seq = ? AND digest = ? AND sig IS NULL'),
    // the index on (origin, seq) read from the top down, to the first signed op (unsigned ones are the newest)
    signedRow: prepare<[string], { seq: number }>('SELECT seq FROM kv_store WHERE origin = ? AND sig IS NOT NULL ORDER BY seq DESC LIMIT 1'),
    signedHistory: prepare<[string], { seq: number }>('SELECT seq FROM op_history WHERE origin = ? AND sig IS NOT NULL ORDER BY seq DESC LIMIT 1'),
    holdBatch: prepare<[{ sig: Uint8Array, first: number, digests: Uint8Array, delta: number }]>(`INSERT INTO op_batch (sig, first, digests, live)
      VALUES (:sig, :first, :digests, :delta) ON CONFLICT (sig) DO UPDATE SET live = live + excluded.live`),
    releaseBatch: prepare<[{ sig: Uint8Array, delta: number }]>('UPDATE op_batch SET live = live + :delta WHERE sig = :sig'),
    dropBatch: prepare<[Uint8Array]>('DELETE FROM op_batch WHERE sig = ? AND live <= 0'),
    stage: prepare<[StagedRow]>(`INSERT INTO snapshot_stage (${OP_COLUMNS}, first, digests) VALUES (${OP_PARAMS}, :first, :digests)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, wall = excluded.wall, logical = excluded.logical,
        origin = excluded.origin, seq = excluded.seq, sig = excluded.sig, type = excluded.type, first = excluded.first, digests = excluded.digests, ${LATER_SET}`),
    stagedAfter: prepare<[{ after: string, limit: number }], StagedRow>(`SELECT ${OP_COLUMNS}, first, digests FROM snapshot_stage
      WHERE key > :after ORDER BY key LIMIT :limit`),
    stagedFrom: prepare<[{ limit: number }], StagedRow>(`SELECT ${OP_COLUMNS}, first, digests FROM snapshot_stage ORDER BY key LIMIT :limit`),
    anyStaged: prepare<[], { one: number }>('SELECT 1 AS one FROM snapshot_stage LIMIT 1'),
    clearStaged: prepare<[]>('DELETE FROM snapshot_stage'),
    stageBatch: prepare<[Uint8Array, number, Uint8Array]>('INSERT OR IGNORE INTO snapshot_batch (sig, first, digests) VALUES (?, ?, ?)'),
    stagedBatch: prepare<[Uint8Array], { first: number, digests: Uint8Array }>('SELECT first, digests FROM snapshot_batch WHERE sig = ?'),
    clearStagedBatches: prepare<[]>('DELETE FROM snapshot_batch'),
    vector: prepare<[], VectorRow>('SELECT * FROM version_vector'),
    setVector: prepare<[VectorRow]>(`INSERT INTO version_vector VALUES (:origin, :seq, :wall, :logical, :acc, :floor, :floor_wall, :floor_logical, :floor_acc)
      ON CONFLICT (origin) DO UPDATE SET seq = excluded.seq, wall = excluded.wall, logical = excluded.logical, acc = excluded.acc,
        floor = excluded.floor, floor_wall = excluded.floor_wall, floor_logical = excluded.floor_logical, floor_acc = excluded.floor_acc`),
    // this replica's change cursors (user keys only, above zero): local numbering, never replicated
    // `after` is 0 or more: rows never numbered are at or below zero
    changesAfter: prepare<[{ after: number, limit: number }], Row & { cursor: number }>(`SELECT rowid AS cursor, ${OP_COLUMNS}
      FROM kv_store WHERE rowid > :after ORDER BY rowid LIMIT :limit`),
    meta: prepare<[string], { value: unknown }>('SELECT value FROM meta WHERE name = ?'),
    setMetaValue: prepare<[string, string]>('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value'),
    // what every writing transaction writes, in one statement: the clock, the counts and the latest change cursor
    setMeta: prepare<[Stamp & StoreCounts & { cursor: number }]>(`UPDATE meta SET value = CASE name WHEN 'clock_wall' THEN CAST(:wall AS INTEGER)
      WHEN 'clock_logical' THEN CAST(:logical AS INTEGER) WHEN 'keys' THEN CAST(:keys AS INTEGER) WHEN 'tombstones' THEN CAST(:tombstones AS INTEGER)
      ELSE CAST(:cursor AS INTEGER) END
      WHERE name IN ('clock_wall', 'clock_logical', 'keys', 'tombstones', 'change_cursor')`)
  }
}
