/**
 * Where a SQLite store keeps each user key's latest change cursor: the
 * `changes` table, written once per transaction. A transaction's cursors are
 * gathered per key (a key changed twice keeps only its latest) and written
 * as it commits, a batch of them in one statement: a statement per key cost
 * about as much as writing the key's row.
 */
import type { CursorEntries } from './change-cursors.js'
import type { Statements } from './sqlite-schema.js'

/** Fewer pending cursors than this are written one statement each (JSON costs more than it saves). */
const ONE_BY_ONE = 8

export class ChangeEntries implements CursorEntries {
  private readonly sql: Statements
  private readonly pending = new Map<string, number>()

  constructor (sql: Statements) {
    this.sql = sql
  }

  set (key: string, cursor: number): void {
    this.pending.set(key, cursor)
  }

  delete (key: string): number | undefined {
    const mine = this.pending.get(key)
    this.pending.delete(key)
    const stored = this.sql.unchanged.get(key)?.cursor
    return mine ?? stored
  }

  /** Writes the gathered cursors (inside the committing transaction). */
  flush (): void {
    if (this.pending.size < ONE_BY_ONE) {
      for (const [key, cursor] of this.pending) this.sql.changed.run(key, cursor)
    } else {
      // keys are well-formed UTF-8 (the codec and the RPC refuse others), so their JSON form reaches SQLite intact
      this.sql.changedMany.run(JSON.stringify([...this.pending]))
    }
    this.pending.clear()
  }

  /** Forgets unwritten cursors (the transaction rolled back). */
  discard (): void {
    this.pending.clear()
  }
}
