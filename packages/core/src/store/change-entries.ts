/**
 * Where a SQLite store keeps each user key's latest change cursor: as the
 * rowid of the key's `kv_store` row. `put` writes the row under the cursor
 * its change got (and `touch` moves it to a new one), so numbering a change
 * writes nothing besides the row: a table of its own cost three more b-tree
 * pages a commit (its rows, its key index, its cursor index). A row that
 * was never numbered (murmur's own records, keys from before version 6) has
 * a rowid at or below zero, below every cursor.
 */
import type Database from 'better-sqlite3'
import { RESTART_GAP, type CursorEntries } from './change-cursors.js'
import type { Statements } from './sqlite-schema.js'
import type { ChangeMarks } from '../types.js'

/**
 * The marks `meta` keeps, the latest never below a cursor given: one given
 * again would collide with the row that has it and fail every write after,
 * or name a conflict's change and a row's at once (a watcher resuming from
 * it would skip the row's), so numbering goes on above every row's and
 * every conflict's whatever `meta` says.
 */
export function savedMarks (sql: Statements): ChangeMarks {
  const latest = Number(sql.meta.get('change_cursor')?.value)
  return { latest: Math.max(latest, sql.topCursor.get()?.cursor ?? 0, sql.topConflict.get()?.cursor ?? 0), floor: Number(sql.meta.get('change_floor')?.value) }
}

/**
 * Mends a file whose rows lost their rowids, so their cursors: one rebuilt
 * row by row (a script's `INSERT … SELECT`, a tool that copies tables), where
 * SQLite numbers every row anew from 1. (The sqlite3 shell's `.dump` leaves
 * rowids out too, but cuts murmur's own keys at their leading U+0000: the
 * rebuild fails, or `openDatabase` refuses the '' key it leaves, see
 * `refuseCutKeys`.) murmur's own records tell it, as they
 * always sit at or below zero: they go back there, and the numbering
 * restarts above every cursor given (as for a restored copy, see
 * `ChangeCursors.restart`), so a watcher resuming from a cursor it held gets
 * the current state as a snapshot, not a replay by numbers that now name
 * other changes. A rebuilt file that holds none of murmur's records cannot
 * be told. Returns whether it mended anything.
 */
export function mendRenumbered (db: Database.Database): boolean {
  // every reserved key sorts below U+0001, the lowest key a user may write: the key index finds them
  const records = db.prepare<[], string>('SELECT key FROM kv_store WHERE key < char(1) AND rowid > 0').pluck().all()
  if (records.length === 0) return false
  db.transaction(() => {
    const below = db.prepare<[string]>('UPDATE kv_store SET rowid = (SELECT min(coalesce(min(rowid), 1), 1) - 1 FROM kv_store) WHERE key = ?')
    for (const key of records) below.run(key)
    const given = db.prepare<[], number>(`SELECT max(coalesce((SELECT max(rowid) FROM kv_store), 0), coalesce((SELECT max(conflict) FROM key_history WHERE conflict IS NOT NULL), 0),
      coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE name = 'change_cursor'), 0))`).pluck().get() ?? 0
    db.prepare<[number]>("UPDATE meta SET value = ? WHERE name IN ('change_cursor', 'change_floor')").run(given + RESTART_GAP)
  })()
  return true
}

export class RowCursors implements CursorEntries {
  private readonly sql: Statements

  constructor (sql: Statements) {
    this.sql = sql
  }

  set (): void {
    // the row's put carries the cursor
  }

  delete (key: string): number | undefined {
    const cursor = this.sql.rowCursor.get(key)?.cursor
    return cursor !== undefined && cursor > 0 ? cursor : undefined
  }
}
