/**
 * `PastStore` in the SQLite file: the `key_history` table. The ranges
 * `replica/conflicts.ts` defines are row-value comparisons here, on
 * (wall, logical, origin[, seq]); origins compare as bytes, as peer IDs
 * (ASCII) do in JavaScript too.
 */
import type Database from 'better-sqlite3'
import { compareVersions } from '../compare.js'
import { newerSeen } from '../replica/conflicts.js'
import { fromRow, seenColumns } from './sqlite-rows.js'
import type { Row } from './sqlite-schema.js'
import type { Op, PastStore, PastVersion, Seen, Trimmed, Version } from '../types.js'

type PastRow = Row & { id: number, conflict: number | null }

const COLUMNS = 'key, value, wall, logical, origin, seq, type, seen_wall, seen_logical, seen_origin, digest'
const NEWEST_FIRST = 'wall DESC, logical DESC, origin DESC, seq DESC, digest DESC'
/** Up to this many keys, `newest` looks each up on its own. */
const FEW_KEYS = 4

export interface SqlitePastComponents {
  db: Database.Database
  /** Runs a mutation in the store's current transaction (or one of its own). */
  mutate: <T>(fn: () => T) => T
  /** The next change cursor. */
  claim: () => number
}

function prepare (db: Database.Database) {
  return {
    // a refresh is never a past version (`Op.refresh`)
    keepRow: db.prepare<[number | null, string]>(`INSERT OR IGNORE INTO key_history (${COLUMNS}, conflict) SELECT ${COLUMNS}, ? FROM kv_store
      WHERE key = ? AND refresh IS NULL`),
    // a version kept as a conflict is marked as it goes in (an update of the row after it would write it twice); no
    // RETURNING here or below: it costs more than the statement (SQLite stages the rows, better-sqlite3 copies them)
    // positional: `COLUMNS`, then conflict
    keep: db.prepare<[string, Uint8Array | null, number, number, string, number, string, number | null, number | null, string | null, Uint8Array, number | null]>(`INSERT OR IGNORE
      INTO key_history (${COLUMNS}, conflict) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    // one query for all the keys of a write (a key's JSON form reaches SQLite as text), rows first, then past versions
    rowVersions: db.prepare<[string], Seen & { key: string }>('SELECT key, wall, logical, origin FROM kv_store WHERE key IN (SELECT value FROM json_each(?))'),
    // and for a write of a few keys, one key at a time (a JSON array costs more than the lookups it saves)
    rowVersion: db.prepare<[string], Seen>('SELECT wall, logical, origin FROM kv_store WHERE key = ?'),
    pastVersion: db.prepare<[string], Seen>(`SELECT wall, logical, origin FROM key_history WHERE key = ? ORDER BY ${NEWEST_FIRST} LIMIT 1`),
    pastVersions: db.prepare<[string], Seen & { key: string }>(`SELECT key, wall, logical, origin FROM key_history
      WHERE key IN (SELECT value FROM json_each(?)) ORDER BY key, ${NEWEST_FIRST}`),
    between: db.prepare<[Record<string, unknown>], PastRow>(`SELECT * FROM key_history WHERE key = :key AND conflict IS NULL
      AND (wall, logical, origin) > (:sw, :sl, :so) AND (wall, logical, origin, seq) < (:wall, :logical, :origin, :seq) ORDER BY ${NEWEST_FIRST}`),
    unseen: db.prepare<[Record<string, unknown>], { one: number }>(`SELECT 1 AS one FROM key_history WHERE key = :key
      AND (wall, logical, origin, seq) > (:wall, :logical, :origin, :seq)
      AND seen_origin IS NOT NULL AND (seen_wall, seen_logical, seen_origin) < (:wall, :logical, :origin) LIMIT 1`),
    at: db.prepare<[Record<string, unknown>], { id: number }>(`SELECT id FROM key_history WHERE key = :key AND wall = :wall
      AND logical = :logical AND origin = :origin AND seq = :seq AND conflict IS NULL`),
    mark: db.prepare<[number, number]>('UPDATE key_history SET conflict = ? WHERE id = ?'),
    byId: db.prepare<[number], PastRow>('SELECT * FROM key_history WHERE id = ?'),
    size: db.prepare<[string], { n: number, bytes: number | null }>('SELECT count(*) AS n, sum(length(value)) AS bytes FROM key_history WHERE key = ?'),
    // the rule of `headsAt`'s pastless (sqlite-schema.ts), for keys that may have no row
    // (json_each aliased: key_history has a `value` column too)
    withPast: db.prepare<[string], string>(`SELECT j.value FROM json_each(?) j WHERE EXISTS (SELECT 1 FROM key_history h WHERE h.key = j.value)
      OR EXISTS (SELECT 1 FROM key_history_floor f WHERE f.key = j.value)`).pluck(),
    trim: db.prepare<[{ key: string, versions: number, bytes: number }], Trimmed>(`DELETE FROM key_history WHERE id IN (
      SELECT id FROM (SELECT id, ROW_NUMBER() OVER w AS n, SUM(coalesce(length(value), 0)) OVER w AS total FROM key_history
        WHERE key = :key WINDOW w AS (ORDER BY ${NEWEST_FIRST} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
      WHERE n > :versions OR total > :bytes) RETURNING wall, logical, origin, seq, digest`),
    floor: db.prepare<[string], Version>('SELECT wall, logical, origin, seq FROM key_history_floor WHERE key = ?'),
    setFloor: db.prepare<[Version & { key: string }]>(`INSERT INTO key_history_floor (key, wall, logical, origin, seq) VALUES (:key, :wall, :logical, :origin, :seq)
      ON CONFLICT (key) DO UPDATE SET wall = excluded.wall, logical = excluded.logical, origin = excluded.origin, seq = excluded.seq
      WHERE (excluded.wall, excluded.logical, excluded.origin, excluded.seq) > (wall, logical, origin, seq)`),
    list: db.prepare<[string, number], PastRow>(`SELECT * FROM key_history WHERE key = ? ORDER BY ${NEWEST_FIRST} LIMIT ?`),
    conflictsAfter: db.prepare<[number, number], PastRow>('SELECT * FROM key_history WHERE conflict > ? ORDER BY conflict LIMIT ?'),
    conflicts: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM key_history WHERE conflict IS NOT NULL')
  }
}

export class SqlitePast implements PastStore {
  private readonly sql: ReturnType<typeof prepare>
  private readonly components: SqlitePastComponents

  constructor (components: SqlitePastComponents) {
    this.components = components
    this.sql = prepare(components.db)
  }

  keepRow (key: string): void {
    this.components.mutate(() => this.sql.keepRow.run(null, key))
  }

  keepCurrent (row: Op, conflict: boolean): PastVersion | undefined {
    // a statement that returns rows costs several that do not: the caller's copy of the row goes out, none is read back
    return this.components.mutate(() => {
      const cursor = conflict ? this.components.claim() : null
      if (this.sql.keepRow.run(cursor, row.key).changes === 0 || cursor === null) return undefined
      return { op: row, conflict: cursor }
    })
  }

  keep (op: Op, digest: Uint8Array, conflict = false, pastless = false): PastVersion | undefined {
    if (op.refresh === true) return undefined
    // at or below what the bound trimmed: it would have been trimmed too, had it come before
    const floor = pastless ? undefined : this.sql.floor.get(op.key)
    if (floor !== undefined && compareVersions(op, floor) <= 0) return undefined
    const row = { key: op.key, value: op.value, wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq, type: op.type ?? 'text' as const, ...seenColumns(op.seen), digest }
    return this.components.mutate(() => {
      const cursor = conflict ? this.components.claim() : null
      if (this.sql.keep.run(row.key, row.value, row.wall, row.logical, row.origin, row.seq, row.type, row.seen_wall, row.seen_logical, row.seen_origin, digest, cursor).changes === 0 || cursor === null) return undefined
      return pastOf({ ...row, sig: null, expires: null, id: 0, conflict: cursor })
    })
  }

  newest (keys: string[], rows?: ReadonlyMap<string, Seen & { pastless?: boolean }>): Map<string, Seen> {
    const found = new Map<string, Seen>()
    const take = (key: string, seen: Seen): void => { found.set(key, newerSeen(found.get(key), seen) as Seen) }
    if (rows === undefined && keys.length <= FEW_KEYS) {
      for (const key of keys) {
        const row = this.sql.rowVersion.get(key)
        if (row !== undefined) take(key, row)
        const past = this.sql.pastVersion.get(key)
        if (past !== undefined) take(key, past)
      }
      return found
    }
    if (rows === undefined) for (const { key, ...seen } of this.sql.rowVersions.all(JSON.stringify(keys))) take(key, seen)
    else for (const key of keys) { const row = rows.get(key); if (row !== undefined) take(key, { wall: row.wall, logical: row.logical, origin: row.origin }) }
    // a past version can be newer than the row (an old op taken after its key's delete was collected)
    const withPast = rows === undefined ? keys : keys.filter(key => rows.get(key)?.pastless !== true)
    if (withPast.length > FEW_KEYS) for (const { key, ...seen } of this.sql.pastVersions.all(JSON.stringify(withPast))) take(key, seen)
    else for (const key of withPast) { const past = this.sql.pastVersion.get(key); if (past !== undefined) take(key, past) }
    return found
  }

  withPast (keys: string[]): Set<string> {
    return keys.length === 0 ? new Set() : new Set(this.sql.withPast.all(JSON.stringify(keys)))
  }

  markBetween (key: string, seen: Seen, winner: Version): PastVersion[] {
    const rows = this.sql.between.all({ key, sw: seen.wall, sl: seen.logical, so: seen.origin, ...version(winner) })
    return rows.map(row => this.markRow(row))
  }

  unseenByNewer (op: Version & { key: string }): boolean {
    return this.sql.unseen.get({ key: op.key, ...version(op) }) !== undefined
  }

  mark (op: Op): PastVersion | undefined {
    const at = this.sql.at.get({ key: op.key, ...version(op) })
    const row = at === undefined ? undefined : this.sql.byId.get(at.id)
    return row === undefined ? undefined : this.markRow(row)
  }

  trim (key: string, versions: number, bytes: number): Trimmed[] {
    // the window query only when something is over: most keys are within the bound
    const size = this.sql.size.get(key)
    if (size === undefined || (size.n <= versions && (size.bytes ?? 0) <= bytes)) return []
    return this.components.mutate(() => {
      const gone = this.sql.trim.all({ key, versions, bytes })
      const newest = gone.reduce<Version | undefined>((max, v) => max === undefined || compareVersions(v, max) > 0 ? v : max, undefined)
      if (newest !== undefined) this.sql.setFloor.run({ key, ...version(newest) })
      return gone
    })
  }

  list (key: string, limit: number): PastVersion[] {
    return this.sql.list.all(key, limit).map(pastOf)
  }

  conflictsAfter (after: number, limit: number): PastVersion[] {
    return this.sql.conflictsAfter.all(after, limit).map(pastOf)
  }

  conflicts (): number {
    return this.sql.conflicts.get()?.n ?? 0
  }

  private markRow (row: PastRow): PastVersion {
    return this.components.mutate(() => {
      const conflict = this.components.claim()
      this.sql.mark.run(conflict, row.id)
      return pastOf({ ...row, conflict })
    })
  }
}

function version (v: Version): { wall: number, logical: number, origin: string, seq: number } {
  return { wall: v.wall, logical: v.logical, origin: v.origin, seq: v.seq }
}

function pastOf (row: PastRow): PastVersion {
  const op = fromRow({ ...row, sig: null })
  return row.conflict === null ? { op } : { op, conflict: row.conflict }
}
