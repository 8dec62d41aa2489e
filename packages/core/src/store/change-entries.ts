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
