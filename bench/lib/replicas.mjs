/** Reads replicas straight from their SQLite files, as a person would with sqlite3. */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { kvStoreDigest } from '@murmur/core'
import { performance } from 'node:perf_hooks'
import { sleep } from './daemon.mjs'

/** A SHA-256 over every kv_store row (every column) in key order (core's `kvStoreDigest`), and the row count. */
export function digest (dataDir) {
  const path = join(dataDir, 'murmur.db')
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return { rows: db.prepare('SELECT count(*) AS n FROM kv_store').get().n, sha256: kvStoreDigest(path) }
  } finally {
    db.close()
  }
}

/**
 * Waits until every node's kv_store rows are identical, and throws if they are
 * not within `timeoutMs`. The user's keys are identical once the version
 * vectors are; the members' attestations (keys under U+0000) settle a moment
 * later, each node recording what it holds once the last ops arrived.
 */
export async function assertIdentical (nodes, { timeoutMs = 15_000 } = {}) {
  const deadline = Date.now() + timeoutMs
  while (true) {
    const digests = nodes.map(n => ({ name: n.name, ...digest(n.dataDir) }))
    if (digests.every(d => d.sha256 === digests[0].sha256)) return digests[0]
    if (Date.now() > deadline) {
      throw new Error(`replicas differ after ${timeoutMs} ms: ${digests.map(d => `${d.name} ${d.rows} rows ${d.sha256.slice(0, 12)}`).join(', ')}\n` +
        differingRows(nodes))
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

/** The first few keys whose rows differ between the nodes, each node's (origin, seq, wall, logical, value bytes) for them. */
function differingRows (nodes, limit = 5) {
  const dbs = nodes.map(n => new Database(join(n.dataDir, 'murmur.db'), { readonly: true, fileMustExist: true }))
  try {
    const iterators = dbs.map(db => db.prepare('SELECT key, origin, seq, wall, logical, length(value) AS bytes, hex(substr(sig, 1, 4)) AS sig, hex(substr(digest, 1, 4)) AS digest FROM kv_store ORDER BY key').iterate())
    const lines = []
    const heads = iterators.map(it => it.next())
    while (lines.length < limit && heads.some(h => !h.done)) {
      const keys = heads.filter(h => !h.done).map(h => h.value.key).sort()
      const key = keys[0]
      const rows = heads.map(h => (!h.done && h.value.key === key) ? h.value : undefined)
      const shown = rows.map(r => r === undefined ? 'absent' : `${r.origin.slice(-6)}/${r.seq} @${r.wall}.${r.logical} ${r.bytes ?? 'tombstone'} sig ${r.sig || '-'} digest ${r.digest}`)
      if (new Set(shown).size > 1) lines.push(`  ${JSON.stringify(key)}: ${shown.map((s, i) => `${nodes[i].name} ${s}`).join('; ')}`)
      for (let i = 0; i < heads.length; i++) if (rows[i] !== undefined) heads[i] = iterators[i].next()
    }
    for (const it of iterators) it.return?.()
    return lines.join('\n')
  } finally {
    for (const db of dbs) db.close()
  }
}

/**
 * When `node` holds every op of `origin` up to `seq`: its version vector,
 * read from its SQLite file by this process every `pollMs` (the daemon
 * spends nothing on it). Resolves with that time (performance.now()).
 */
export async function holds (node, origin, seq, { timeoutMs = 60_000, pollMs = 5 } = {}) {
  const db = new Database(join(node.dataDir, 'murmur.db'), { readonly: true, fileMustExist: true })
  try {
    const held = db.prepare('SELECT seq FROM version_vector WHERE origin = ?').pluck()
    const deadline = performance.now() + timeoutMs
    while (true) {
      const at = performance.now()
      if ((held.get(origin) ?? 0) >= seq) return at
      if (at > deadline) throw new Error(`${node.name} does not hold ${origin}'s ops up to ${seq} after ${timeoutMs} ms`)
      await sleep(pollMs)
    }
  } finally {
    db.close()
  }
}
