/**
 * Clusters of murmurd on 127.0.0.1. Node i > 0 is given `--peer` of one or two
 * earlier nodes (its parent in a binary tree and the parent's left neighbour),
 * so gossipsub has to mesh through them, as a fleet that was told only a few
 * addresses would.
 */
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import Database from 'better-sqlite3'
import { Daemon, sleep } from './daemon.mjs'

/** The earlier nodes node i is told about with --peer. */
export function peersOf (i) {
  if (i === 0) return []
  const parent = Math.floor((i - 1) / 2)
  return [...new Set([parent, Math.max(0, parent - 1)])]
}

/** How many connections node i should end up with in a cluster of n. */
export function degreeOf (i, n) {
  let d = peersOf(i).length
  for (let j = i + 1; j < n; j++) if (peersOf(j).includes(i)) d++
  return d
}

export class Cluster {
  constructor (root, prefix = 'n') {
    this.root = root
    this.prefix = prefix
    this.nodes = []
  }

  /** Starts n nodes (at most `concurrency` starting at once), each once the nodes it peers with are up. */
  async start (n, { concurrency = 4, peers = peersOf, args = [], timeoutMs = 180_000 } = {}) {
    const started = []
    let running = 0
    const waiters = []
    const slot = async () => {
      while (running >= concurrency) await new Promise(resolve => waiters.push(resolve))
      running++
    }
    const release = () => { running--; waiters.shift()?.() }
    const first = this.nodes.length
    for (let k = 0; k < n; k++) {
      const i = first + k
      started[i] = (async () => {
        const deps = await Promise.all(peers(i).map(async j => await (started[j] ?? this.nodes[j])))
        await slot()
        try {
          const node = new Daemon(`${this.prefix}${i}`, join(this.root, `${this.prefix}${i}`), { peers: deps.map(d => d.addr), args })
          this.nodes[i] = node
          await node.start({ timeoutMs })
          return node
        } finally {
          release()
        }
      })()
    }
    await Promise.all(started.slice(first))
    return this.nodes.slice(first)
  }

  /** Waits until every node is connected to at least `degree(i)` group members. */
  async connected (degree = i => degreeOf(i, this.nodes.length), timeoutMs = 60_000) {
    const deadline = performance.now() + timeoutMs
    while (true) {
      const statuses = await Promise.all(this.nodes.map(async n => await n.status()))
      const missing = statuses.map((s, i) => s.peers >= degree(i) ? null : `${this.nodes[i].name} has ${s.peers}/${degree(i)}`).filter(x => x != null)
      if (missing.length === 0) return
      if (performance.now() > deadline) throw new Error(`cluster not connected after ${timeoutMs} ms: ${missing.slice(0, 5).join(', ')}`)
      await sleep(100)
    }
  }

  async stop () {
    await Promise.all(this.nodes.map(async n => await n.stop()))
  }
}

/**
 * Waits until every node holds the same version vector and key count.
 * Vectors are read straight from each node's SQLite file (a read-only
 * connection in this process: the daemons spend no CPU on it), every
 * `pollMs`; once they agree, node_status confirms the key counts. Resolves
 * with the time (performance.now()) at which the vectors first agreed.
 */
export async function converged (nodes, { timeoutMs = 60_000, pollMs = 50, expectKeys } = {}) {
  const deadline = performance.now() + timeoutMs
  const readers = new Map()
  const vectorOf = node => {
    let stmt = readers.get(node)
    if (stmt == null) {
      const db = new Database(join(node.dataDir, 'murmur.db'), { readonly: true, fileMustExist: true })
      stmt = db.prepare('SELECT origin, seq FROM version_vector ORDER BY origin').raw()
      readers.set(node, stmt)
    }
    return JSON.stringify(stmt.all())
  }
  let last = ''
  try {
    while (true) {
      const vectors = nodes.map(vectorOf)
      const at = performance.now()
      if (vectors.every(v => v === vectors[0])) {
        const statuses = await Promise.all(nodes.map(async n => await n.status()))
        last = statuses.map((s, i) => `${nodes[i].name}: ${s.keys} keys`).join(', ')
        if (statuses.every(s => s.keys === statuses[0].keys && vectorKey(s.versionVector) === vectorKey(statuses[0].versionVector)) &&
          (expectKeys == null || statuses[0].keys === expectKeys)) return at
      } else {
        last = 'version vectors differ: ' + nodes.map((n, i) => `${n.name} ${vectors[i].replace(/"12D3KooW(\w{4})\w*"/g, '$1')}`).join('; ')
      }
      if (at > deadline) throw new Error(`replicas not identical after ${timeoutMs} ms (${last})`)
      await sleep(pollMs)
    }
  } finally {
    for (const stmt of readers.values()) stmt.database.close()
  }
}

export function vectorKey (vector) {
  return JSON.stringify(Object.keys(vector).sort().map(k => [k, vector[k]]))
}
