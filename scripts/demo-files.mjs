/**
 * What the demo reads straight from the nodes' SQLite files (read-only, never
 * through murmurd): the kv_store rows it shows identical, and the moments a
 * write reaches each node. Those are polled about every millisecond from
 * before the write, so nothing else the demo does counts (each murmurctl call
 * is a whole process, ~0.1–0.2 s).
 */
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const Database = createRequire(join(ROOT, 'package.json'))('better-sqlite3')

export class DemoError extends Error { name = 'DemoError' }
export const fail = message => { throw new DemoError(message) }

const ROWS = 'SELECT key, value, wall, logical, origin, seq FROM kv_store ORDER BY key'
const VERSION = 'SELECT wall, logical, origin, seq FROM kv_store WHERE key = ?'
const openFile = dataDir => new Database(join(dataDir, 'murmur.db'), { readonly: true, fileMustExist: true })

/** The kv_store rows of a node's file, as `sqlite3` would show them. */
export function kvRows (dataDir) {
  const db = openFile(dataDir)
  try {
    return db.prepare(ROWS).raw().all()
  } finally {
    db.close()
  }
}

/** sha256 over the rows, values as hex, so equal digests mean byte-identical rows. */
export function digest (rows) {
  const canonical = rows.map(([key, value, ...rest]) => [key, value == null ? null : Buffer.from(value).toString('hex'), ...rest])
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex')
}

/**
 * Runs `act` while reading every node's file about every millisecond, from
 * before `act` starts: `read(db)` makes each node's reader, and `tick(values,
 * now)` sees one round of reads (now = performance.now()) and returns true
 * once it has what it waits for. Resolves to what `act` returned.
 */
async function pollDuring (nodes, { read, tick, what, timeoutMs, guard }, act) {
  const dbs = nodes.map(node => openFile(node.dataDir))
  let stop = false
  const poll = (async () => {
    const reads = dbs.map(read)
    const deadline = performance.now() + timeoutMs
    while (!stop) {
      guard()
      const now = performance.now()
      if (tick(reads.map(r => r()), now)) return
      if (now > deadline) fail(`timed out after ${timeoutMs / 1000} s waiting for ${what}`)
      await new Promise(resolve => setTimeout(resolve, 1))
    }
  })()
  poll.catch(() => {}) // its failure is awaited below; this keeps an early one from going unhandled
  try {
    const result = await act()
    await poll
    return result
  } finally {
    stop = true
    await poll.catch(() => {})
    for (const db of dbs) db.close()
  }
}

const versionKey = row => row == null ? 'absent' : `${row.wall}.${row.logical} ${row.origin} ${row.seq}`

/**
 * Times one write's replication: `write()` makes it on `nodes[0]` and returns
 * its version; the result is how long after the writer's file held that
 * version each other node's did (ms).
 */
export async function timeReplication (nodes, key, write, { timeoutMs, guard }) {
  const before = nodes.map(node => { const db = openFile(node.dataDir); try { return versionKey(db.prepare(VERSION).get(key)) } finally { db.close() } })
  const at = nodes.map(() => undefined)
  const rows = []
  const version = await pollDuring(nodes, {
    read: db => { const get = db.prepare(VERSION); return () => get.get(key) },
    tick: (values, now) => {
      values.forEach((row, i) => { if (at[i] === undefined && versionKey(row) !== before[i]) { at[i] = now; rows[i] = row } })
      return at.every(t => t !== undefined)
    },
    what: `${key} to reach every node`,
    timeoutMs,
    guard
  }, write)
  rows.forEach((row, i) => { if (versionKey(row) !== versionKey(version)) fail(`${nodes[i].name} first held ${key} at ${versionKey(row)}, not the version written (${versionKey(version)})`) })
  return at.slice(1).map(t => t - at[0])
}

/**
 * Times a catch-up: from the start of `act` until every node's file holds the
 * same `keys` user rows (keys under U+0000 are members' attestations, which
 * settle later). Resolves to that time in ms.
 */
export async function timeCatchUp (nodes, keys, act, { timeoutMs, guard }) {
  const started = performance.now()
  let doneAt
  await pollDuring(nodes, {
    read: db => { const all = db.prepare(ROWS).raw(); return () => all.all().filter(([key]) => !key.startsWith('\u0000')) },
    tick: (values, now) => {
      const digests = values.map(rows => rows.length === keys ? digest(rows) : undefined)
      if (digests.some(d => d === undefined || d !== digests[0])) return false
      doneAt = now
      return true
    },
    what: `all ${nodes.length} nodes to hold the same ${keys} keys`,
    timeoutMs,
    guard
  }, act)
  return doneAt - started
}
