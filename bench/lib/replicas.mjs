/** Reads replicas straight from their SQLite files, as a person would with sqlite3. */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import Database from 'better-sqlite3'

/** A SHA-256 over every kv_store row (every column) in key order, and the row count. */
export function digest (dataDir) {
  const db = new Database(join(dataDir, 'murmur.db'), { readonly: true, fileMustExist: true })
  try {
    const hash = createHash('sha256')
    let rows = 0
    for (const row of db.prepare('SELECT * FROM kv_store ORDER BY key').raw().iterate()) {
      for (const cell of row) {
        if (cell == null) hash.update('\0N')
        else if (Buffer.isBuffer(cell)) hash.update('\0B').update(String(cell.length)).update(':').update(cell)
        else hash.update('\0V').update(String(cell).length.toString()).update(':').update(String(cell))
      }
      rows++
    }
    return { rows, sha256: hash.digest('hex') }
  } finally {
    db.close()
  }
}

/** Throws unless every node's kv_store rows are identical. */
export function assertIdentical (nodes) {
  const digests = nodes.map(n => ({ name: n.name, ...digest(n.dataDir) }))
  if (!digests.every(d => d.sha256 === digests[0].sha256)) {
    throw new Error(`replicas differ: ${digests.map(d => `${d.name} ${d.rows} rows ${d.sha256.slice(0, 12)}`).join(', ')}`)
  }
  return digests[0]
}
