/**
 * 3. Catch-up: on a 3-node cluster, node 2 is stopped while 100,000 keys
 * (100-byte values; 30,000 with --quick) are written to node 0 in batches; node 1 receives them
 * live. Node 2 stays down at least `OFFLINE_MS` after the last write, past
 * gossipsub's window of recently advertised messages (3 heartbeats), then
 * restarts: time from its restart (spawn) to identical replicas, and the TCP
 * payload bytes on node 2's connections meanwhile. Once per section it is
 * also restarted straight after a burst, within that window, where its peers'
 * IHAVE gossip offers it the window's messages again (bytes reported, not judged).
 * 4. Join: then a new, empty node 3 joins with `--peer` of node 0: time from
 * its start to a full replica, and its bytes. Once per section, the same
 * join to a group that has collected what it holds (a snapshot): a second
 * pair with a 2 s grace takes the keys in no key order, and a new node joins
 * once its floors pass them.
 */
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Daemon, TcpMeter, removeDir, tempDir } from '../lib/daemon.mjs'
import { Cluster, converged } from '../lib/cluster.mjs'
import { batchedPuts, keyOf, valueOf } from '../lib/load.mjs'
import { assertIdentical } from '../lib/replicas.mjs'

export const CATCHUP_KEYS = 100_000
const VALUE_BYTES = 100
/** Longer than gossipsub's IHAVE window (mcacheGossip = 3 heartbeats of 1 s). */
const OFFLINE_MS = 5_000

/** Starts `node` and measures until its replica matches `reference`: { totalMs, readyMs, wire, syncMs }. */
export async function timeToReplica (node, others, { expectKeys, timeoutMs = 120_000 }) {
  const meterReady = node.start({ pollMs: 5 })
  // the pid exists as soon as start() spawned; meter the daemon's TCP connections from then on
  const meter = new TcpMeter(node.pid, 100)
  await meterReady
  const doneAt = await converged([node, ...others], { timeoutMs, pollMs: 25, expectKeys })
  const wire = await meter.finish()
  return { totalMs: doneAt - node.startedAt, readyMs: node.readyMs, syncMs: doneAt - node.startedAt - node.readyMs, wire }
}

export async function catchup ({ quick, runs, report, log }) {
  // --quick writes fewer keys, so its figures are not judged against the 100,000-key targets
  const keys = quick ? 30_000 : CATCHUP_KEYS
  const count = keys.toLocaleString('en-US')
  const judged = keys === CATCHUP_KEYS
  const r = { catchup: [], catchupReady: [], catchupWire: [], join: [], joinReady: [], joinWire: [], write: [], payload: 0, burstWire: [], burstMs: [] }
  const n = quick ? 1 : runs
  for (let run = 0; run < n; run++) {
    const root = tempDir()
    const cluster = new Cluster(root, 'c')
    try {
      const [a, b, c] = await cluster.start(3, { peers: i => [...Array(i).keys()] })
      await cluster.connected(() => 2)
      await c.stop()
      const prefix = `cu${run}`
      const start = performance.now()
      const wrote = await batchedPuts(a.ctl, { ms: 120_000, max: keys, size: 1000, value: i => valueOf(VALUE_BYTES, i), keyOf: i => keyOf(prefix, i) })
      const lastWrite = performance.now()
      r.write.push(wrote.count / ((lastWrite - start) / 1000))
      await converged([a, b], { timeoutMs: 120_000, pollMs: 100, expectKeys: keys })
      const payload = keys * (Buffer.byteLength(keyOf(prefix, 0)) + VALUE_BYTES)
      r.payload = payload
      // a bounded wait that is the scenario itself (how long the node was away), not a readiness guess
      await new Promise(resolve => setTimeout(resolve, Math.max(0, lastWrite + OFFLINE_MS - performance.now())))

      const cu = await timeToReplica(c, [a, b], { expectKeys: keys })
      await assertIdentical([a, b, c])
      r.catchup.push(cu.totalMs); r.catchupReady.push(cu.readyMs); r.catchupWire.push(cu.wire.in + cu.wire.out)
      log(`  catch-up ${run + 1}: ${cu.totalMs.toFixed(0)} ms from restart (ready after ${cu.readyMs.toFixed(0)} ms), ` +
        `wire ${(cu.wire.in / 1e6).toFixed(2)} MB in + ${(cu.wire.out / 1e6).toFixed(2)} MB out over ${cu.wire.connections.length} connection(s) for ${(payload / 1e6).toFixed(2)} MB of keys+values`)
      r.catchupConnections = cu.wire.connections

      const d = new Daemon('c3', join(root, 'c3'), { peers: [a.addr] })
      cluster.nodes.push(d)
      const jn = await timeToReplica(d, [a], { expectKeys: keys })
      await assertIdentical([a, d])
      r.join.push(jn.totalMs); r.joinReady.push(jn.readyMs); r.joinWire.push(jn.wire.in + jn.wire.out)
      log(`  join ${run + 1}: ${jn.totalMs.toFixed(0)} ms from start (ready after ${jn.readyMs.toFixed(0)} ms), wire ${((jn.wire.in + jn.wire.out) / 1e6).toFixed(2)} MB`)

      if (run === 0) {
        // the same again, restarting straight after the burst
        await c.stop()
        const burst = `cb${run}`
        await batchedPuts(a.ctl, { ms: 120_000, max: keys, size: 1000, value: i => valueOf(VALUE_BYTES, i), keyOf: i => keyOf(burst, i) })
        const again = await timeToReplica(c, [a, b, d], { expectKeys: 2 * keys })
        await assertIdentical([a, b, c, d])
        r.burstWire.push(again.wire.in + again.wire.out); r.burstMs.push(again.totalMs)
        log(`  catch-up right after the burst: ${again.totalMs.toFixed(0)} ms, wire ${((again.wire.in + again.wire.out) / 1e6).toFixed(2)} MB`)
      }
    } finally {
      await cluster.stop()
      removeDir(root)
    }
  }
  const S3 = '3 catch-up'
  const payloadRuns = r.catchup.map(() => r.payload)
  report.row({ section: S3, id: 'catchup.ms', label: `restart → identical replicas, ${count} keys missed`, unit: 'ms', runs: r.catchup,
    baseline: { label: 'restart → socket ready', runs: r.catchupReady },
    target: judged ? { on: 'value', op: '<=', limit: 5_000, text: '≤ 5,000 ms' } : undefined,
    note: '3 nodes, each dialling all earlier ones; node 2 stopped (SIGTERM) while node 0 took ' + count + ' puts (JSON-RPC batches of 1,000) and node 1 received them, and restarted ' + OFFLINE_MS / 1000 + ' s after the last write; timed from spawning node 2 again until all three hold the same version vector (read from each node\'s SQLite file every 25 ms, so polling costs the daemons nothing) and node_status shows the same key count; kv_store rows then compared by SHA-256 (not timed)' })
  report.row({ section: S3, id: 'catchup.wire', label: 'catch-up wire bytes (TCP payload, both directions)', unit: 'bytes', runs: r.catchupWire,
    baseline: { label: 'keys + values', runs: payloadRuns },
    target: judged ? { on: 'ratio', op: '<=', limit: 1.5, text: '≤ 1.5× payload' } : undefined,
    note: 'the kernel\'s per-connection TCP counters (tcp_info bytes_received + bytes_acked, read with `ss -ti` every 100 ms, highest value kept per connection) summed over every TCP connection of the restarted daemon: noise and yamux framing, identify, gossipsub, pings and sync included; TCP/IP headers excluded' })
  report.row({ section: S3, id: 'catchup.burst.wire', label: 'catch-up wire bytes, restarted straight after the burst', unit: 'bytes', runs: r.burstWire,
    baseline: { label: 'keys + values', runs: r.burstWire.map(() => r.payload) },
    note: `node 2 stopped again, ${count} more puts, restarted as soon as node 1 held them: within gossipsub's IHAVE window (3 heartbeats), so its peers offer it the last seconds of messages again by gossip (IWANT), the ops its first pull also brings; one run` })
  report.row({ section: '4 join', id: 'join.ms', label: `new empty node → full replica of ${count} keys`, unit: 'ms', runs: r.join,
    baseline: { label: 'start → socket ready', runs: r.joinReady },
    target: judged ? { on: 'value', op: '<=', limit: 5_000, text: '≤ 5,000 ms' } : undefined,
    note: 'a 4th node started with --peer of node 0 only; timed from its spawn to the same version vector and key count as node 0' })
  report.row({ section: '4 join', id: 'join.wire', label: 'join wire bytes (TCP payload, both directions)', unit: 'bytes', runs: r.joinWire,
    baseline: { label: 'keys + values', runs: payloadRuns } })
  const collected = await joinCollected(keys, log)
  report.row({ section: '4 join', id: 'join.collected.ms', label: `the same join once the group has collected its ${count} keys (a snapshot)`, unit: 'ms', runs: [collected.totalMs],
    baseline: { label: 'join before collection', runs: [r.join[0]] },
    note: 'a second pair of nodes with --tombstone-grace 2000 takes the keys from node 0 in batches of 1,000 in a shuffled key order (a batch\'s proof names all its ops, so the rows of one batch are far apart in key order); once node 0\'s floor passes them, a new node joins with --peer of node 0; one run' })
  report.row({ section: '4 join', id: 'join.collected.wire', label: 'its wire bytes', unit: 'bytes', runs: [collected.wire],
    baseline: { label: 'keys + values', runs: [r.payload] } })
  report.detail('catchup', { ...r, collected })
}

/** A pair with a short grace takes `keys` shuffled keys; once node 0 collected them, a new node joins: { totalMs, readyMs, wire }. */
async function joinCollected (keys, log) {
  const root = tempDir()
  const cluster = new Cluster(root, 'g')
  const args = ['--tombstone-grace', '2000']
  try {
    const [a, b] = await cluster.start(2, { peers: i => [...Array(i).keys()], args })
    await cluster.connected(() => 1)
    // a fixed shuffle, the same every run
    let seed = 7
    const order = Array.from({ length: keys }, (_, i) => i).sort(() => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 - 0.5 })
    await batchedPuts(a.ctl, { ms: 120_000, max: keys, size: 1000, value: i => valueOf(VALUE_BYTES, i), keyOf: i => keyOf('jc', order[i]) })
    await converged([a, b], { timeoutMs: 120_000, pollMs: 100, expectKeys: keys })
    const written = (await a.ctl.call('node_status', {})).versionVector[a.id]
    const deadline = performance.now() + 120_000
    while (((await a.ctl.call('node_status', {})).replication.floors[a.id] ?? 0) < written) {
      if (performance.now() > deadline) {
        // what each node's collection waits for, so the next time says why (it happened once, in a full run)
        const why = async (node) => { const { replication: r } = await node.ctl.call('node_status', {}); return { members: r.members, floors: r.floors, blocked: r.collectionBlocked ?? null } }
        throw new Error(`node 0 collected nothing in 120 s (wrote up to ${written}): node 0 ${JSON.stringify(await why(a))}, node 1 ${JSON.stringify(await why(b))}`)
      }
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    const d = new Daemon('g9', join(root, 'g9'), { peers: [a.addr], args })
    cluster.nodes.push(d)
    const jn = await timeToReplica(d, [a], { expectKeys: keys })
    await assertIdentical([a, b, d])
    log(`  join after collection: ${jn.totalMs.toFixed(0)} ms from start, wire ${((jn.wire.in + jn.wire.out) / 1e6).toFixed(2)} MB`)
    return { totalMs: jn.totalMs, readyMs: jn.readyMs, wire: jn.wire.in + jn.wire.out }
  } finally {
    await cluster.stop()
    removeDir(root)
  }
}
