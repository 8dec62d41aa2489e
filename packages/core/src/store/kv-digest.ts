/**
 * A SHA-256 over every column of every `kv_store` row, in key order: what two
 * replicas that hold the same ops have in common, byte for byte, as a person
 * comparing them with sqlite3 would see. Nothing local (a cursor, a time of
 * arrival) may ever be a column of `kv_store`: this is how the simulator and
 * the bench check it.
 */
import { createHash } from 'node:crypto'
import Database from 'better-sqlite3'

export function kvStoreDigest (path: string): string {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    const hash = createHash('sha256')
    for (const row of db.prepare('SELECT * FROM kv_store ORDER BY key').raw().iterate() as Iterable<unknown[]>) {
      for (const cell of row) {
        if (cell === null) hash.update('\0N')
        else if (cell instanceof Uint8Array) hash.update(`\0B${cell.length}:`).update(cell)
        else hash.update(`\0V${String(cell).length}:${String(cell)}`)
      }
    }
    return hash.digest('hex')
  } finally {
    db.close()
  }
}
