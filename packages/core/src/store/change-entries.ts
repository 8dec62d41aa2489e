/**
 * Where a SQLite store keeps each user key's latest change cursor: as the
 * rowid of the key's `kv_store` row. `put` writes the row under the cursor
 * its change got (and `touch` moves it to a new one), so numbering a change
 * writes nothing besides the row: a table of its own cost three more b-tree
 * pages a commit (its rows, its key index, its cursor index). A row that
 * was never numbered (murmur's own records, keys from before version 6) has
 * a rowid at or below zero, below every cursor.
 */
import type { CursorEntries } from './change-cursors.js'
import type { Statements } from './sqlite-schema.js'
import type { ChangeMarks } from '../types.js'

/**
 * The marks `meta` keeps, the latest never below a row's cursor: a cursor
 * given again would collide with the row that has it and fail every write
 * after, so numbering goes on above every row's whatever `meta` says.
 */
export function savedMarks (sql: Statements): ChangeMarks {
  const latest = Number(sql.meta.get('change_cursor')?.value)
  return { latest: Math.max(latest, sql.topCursor.get()?.cursor ?? 0), floor: Number(sql.meta.get('change_floor')?.value) }
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
