/**
 * A lock on a file that the kernel holds for this process and drops when the
 * process ends, however it ends: SQLite's own lock on a database file (a POSIX
 * advisory lock), held by a transaction left open. Node has no flock(), and
 * this needs no native addon beyond the one the store uses already; a file
 * system where SQLite cannot lock (and so where murmur.db's WAL cannot work
 * either) makes `lockFile` throw, not pass.
 *
 * POSIX locks belong to the process, and closing any descriptor of the file
 * drops them: nothing but SQLite may open the file while it is locked (SQLite
 * keeps its own descriptors open until its last connection to the file
 * closes, and a second connection in this process finds the file locked).
 */
import Database from 'better-sqlite3'

/** Keep it referenced while the lock is wanted: once collected, its database connection closes, and the lock goes with it. */
export interface FileLock {
  /** Gives the lock up; the file stays, so that no other process locks a file no longer there. */
  release(): void
}

/**
 * Locks `path` (made if missing, as an empty SQLite file), or returns
 * undefined if it is locked, or was being locked, in `waitMs`. SQLite takes
 * the lock in steps (shared, reserved, exclusive), so processes locking at
 * the same moment with no wait can all fail; with a wait, SQLite's busy
 * handler lets the one that reserved it first finish (the others step back).
 * The wait counts SQLite's sleeps between tries, not the tries themselves.
 */
export function lockFile (path: string, waitMs: number): FileLock | undefined {
  const db = new Database(path, { timeout: waitMs })
  try {
    db.exec('BEGIN EXCLUSIVE')
  } catch (err) {
    db.close()
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') return undefined
    throw err
  }
  return { release: () => { db.close() } }
}
