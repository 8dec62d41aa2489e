/**
 * 12. Scale (only with `--only scale`: it takes minutes): clusters of 3, 10,
 * 30 and 100 real murmurd (3 and 10 with --quick; `--sizes` chooses), each
 * node told one or two earlier nodes (cluster.mjs's tree), so gossipsub meshes
 * through them. Per size:
 * - idle, after the mesh settled: RSS and CPU per node, TCP bytes per node per
 *   second (both directions: anti-entropy, pings, gossipsub heartbeats);
 * - at a low steady rate (10 writes/s on node 0, so the machine is not the
 *   bottleneck): put → event p50/p99 on every other node, CPU and TCP bytes
 *   per node per second;
 * - the size of node_status and of the version vector (origins);
 * - a bulk of keys written on node 0 in batches: time until every node holds
 *   them, then a new node joining through the last one: time to a full replica;
 * - at the end, every replica's kv_store identical (SHA-256 of the rows).
 */
import { cpus } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Daemon, removeDir, sleep, tcpBytes, tempDir } from '../lib/daemon.mjs'
import { Cluster, converged } from '../lib/cluster.mjs'
import { batchedPuts, keyOf, valueOf } from '../lib/load.mjs'
import { EventRouter, meshReady, measureSteady, subscribeAll, unsubscribeAll } from '../lib/propagation.mjs'
import { assertIdentical } from '../lib/replicas.mjs'
import { median } from '../lib/stats.mjs'
import { sizeChartSvg } from '../lib/size-chart.mjs'

const RATE = 10
const IDLE_MS = 20_000

/** TCP payload bytes (in + out) per node over `ms`, as the kernel counts them: one `ss` call for every node. */
async function wirePerSecond (nodes, ms, during = async () => { await sleep(ms) }) {
  const sample = async () => await tcpBytes(nodes.map(n => n.pid))
  const total = per => [...per.values()].reduce((a, b) => a + b.in + b.out, 0)
  const before = await sample()
  const start = performance.now()
  await during()
  const after = await sample()
  const seconds = (performance.now() - start) / 1000
  // a connection opened meanwhile counts from 0; one closed meanwhile is not counted (rare when idle)
  return nodes.map(n => Math.max(0, total(after.get(n.pid)) - total(before.get(n.pid))) / seconds)
}

/** Measures a cluster of `n` into `r` as it goes, so a size that fails part-way keeps what it measured. */
async function scaleOnce (n, r, { quick, log }) {
  const root = tempDir()
  const cluster = new Cluster(root, `s${n}-`)
  try {
    const t = performance.now()
    const nodes = await cluster.start(n, { concurrency: 4 })
    await cluster.connected()
    r.startMs = performance.now() - t
    const router = new EventRouter()
    await subscribeAll(nodes, router.route)
    await meshReady(nodes, 0, router, { withinMs: n >= 30 ? 1_500 : 500, timeoutMs: 180_000 })
    log(`  ${n} nodes started, connected and meshed in ${(r.startMs / 1000).toFixed(1)} s`)

    const cpu0 = nodes.map(d => d.cpuMs())
    const idleStart = performance.now()
    const idleWire = await wirePerSecond(nodes, quick ? 5_000 : IDLE_MS)
    const idleSeconds = (performance.now() - idleStart) / 1000
    r.idleCpuPct = nodes.map((d, i) => (d.cpuMs() - cpu0[i]) / idleSeconds / 10)
    r.idleWire = idleWire
    r.rssMB = nodes.map(d => d.rss() / 2 ** 20)
    log(`  idle: RSS median ${median(r.rssMB).toFixed(0)} MB (max ${Math.max(...r.rssMB).toFixed(0)}), CPU median ${median(r.idleCpuPct).toFixed(2)}% of a core, ` +
      `TCP ${median(idleWire).toFixed(0)} B/s a node`)

    let steady
    r.writeWire = await wirePerSecond(nodes, 0, async () => {
      steady = await measureSteady(nodes, 0, router, { rate: RATE, ms: quick ? 5_000 : 20_000, tag: `s${n}`, graceMs: 5_000 })
    })
    r.latency = steady.latency
    r.delivered = steady.delivered / steady.expected
    r.writeCpuPct = steady.cpuMs.map(c => c / steady.seconds / 10)
    log(`  ${RATE} writes/s: put → event p50 ${steady.latency.p50.toFixed(1)} ms, p99 ${steady.latency.p99.toFixed(1)} ms (${steady.delivered}/${steady.expected} events); ` +
      `CPU median ${median(r.writeCpuPct).toFixed(2)}%, TCP ${median(r.writeWire).toFixed(0)} B/s a node`)
    await unsubscribeAll(nodes)

    const status = await nodes[n - 1].status()
    r.statusBytes = Buffer.byteLength(JSON.stringify(status))
    r.vectorOrigins = Object.keys(status.versionVector ?? {}).length

    const keys = quick ? 10_000 : 100_000
    const expectKeys = (await nodes[0].status()).keys + keys // the probes and steady writes included
    const bulkStart = performance.now()
    await batchedPuts(nodes[0].ctl, { ms: 300_000, max: keys, size: 1000, value: i => valueOf(100, i), keyOf: i => keyOf(`bulk${n}`, i) })
    const everyone = await converged(nodes, { timeoutMs: 600_000, pollMs: 200, expectKeys })
    r.bulk = { keys, ms: everyone - bulkStart }
    log(`  ${keys.toLocaleString('en-US')} keys written on node 0 in batches: on all ${n} nodes after ${(r.bulk.ms / 1000).toFixed(1)} s`)

    const joiner = new Daemon(`s${n}-join`, join(root, `s${n}-join`), { peers: [nodes[n - 1].addr] })
    cluster.nodes.push(joiner)
    const joinStart = performance.now()
    await joiner.start()
    const joined = await converged([nodes[n - 1], joiner], { timeoutMs: 300_000, pollMs: 50, expectKeys })
    r.joinMs = joined - joinStart
    log(`  a new node joining through node ${n - 1}: full replica of ${expectKeys.toLocaleString('en-US')} keys after ${(r.joinMs / 1000).toFixed(1)} s`)

    await converged([...nodes, joiner], { timeoutMs: 120_000, pollMs: 200, expectKeys })
    await assertIdentical([...nodes, joiner], { timeoutMs: 60_000 })
    r.identical = true
  } finally {
    await cluster.stop()
    removeDir(root)
  }
}

export async function scale ({ quick, report, log, sizes }) {
  const results = []
  const failed = []
  // a size that fails (this machine may not hold 100 daemons) is reported as far as it got, and the others still are
  for (const n of sizes ?? (quick ? [3, 10] : [3, 10, 30, 100])) {
    const r = { n }
    results.push(r)
    try {
      await scaleOnce(n, r, { quick, log })
    } catch (err) {
      r.error = err.message
      failed.push(n)
      log(`  ${n} nodes failed: ${err.message.slice(0, 300)}`)
    }
  }
  const S = '12 scale'
  const base = results[0]
  for (const r of results) {
    if (r.idleCpuPct === undefined) continue // it never meshed
    const vs = base !== r ? { label: `${base.n} nodes` } : undefined
    report.row({ section: S, id: `scale.${r.n}.rss`, label: `RSS per idle node, ${r.n} nodes`, unit: 'MB', runs: [median(r.rssMB)],
      baseline: vs && { ...vs, runs: [median(base.rssMB)] }, target: { on: 'value', op: '<=', limit: 70, text: '≤ 70 MB' },
      note: r === base ? 'median over the nodes after the idle window; each node a separate murmurd process (mDNS and DHT off)' : undefined })
    report.row({ section: S, id: `scale.${r.n}.idleCpu`, label: `CPU per idle node, ${r.n} nodes`, unit: '% of a core', runs: [median(r.idleCpuPct)],
      baseline: vs && { ...vs, runs: [median(base.idleCpuPct)] }, target: { on: 'value', op: '<=', limit: 0.5, text: '≤ 0.5%' },
      note: r === base ? `median over the nodes, ${IDLE_MS / 1000} s after the mesh settled (${quick ? 'a 5 s window with --quick' : 'one window'})` : undefined })
    report.row({ section: S, id: `scale.${r.n}.idleWire`, label: `TCP bytes per idle node, ${r.n} nodes`, unit: 'B/s', runs: [median(r.idleWire)],
      baseline: vs && { ...vs, runs: [median(base.idleWire)] },
      note: r === base ? 'payload both ways on every connection of the node (ss: bytes_received + bytes_acked), median over the nodes' : undefined })
    if (r.latency === undefined) continue
    report.row({ section: S, id: `scale.${r.n}.p99`, label: `p99 put → event, ${r.n} nodes, ${RATE} writes/s`, unit: 'ms', runs: [r.latency.p99],
      baseline: { label: 'p50', runs: [r.latency.p50] },
      note: r === base ? `open-loop puts on node 0, events on every other node; ${(r.delivered * 100).toFixed(1)}% delivered within the 5 s grace at this size` : undefined })
    report.row({ section: S, id: `scale.${r.n}.writeWire`, label: `TCP bytes per node at ${RATE} writes/s, ${r.n} nodes`, unit: 'B/s', runs: [median(r.writeWire)],
      baseline: { label: 'idle', runs: [median(r.idleWire)] } })
    if (r.statusBytes === undefined) continue
    report.row({ section: S, id: `scale.${r.n}.status`, label: `node_status size, ${r.n} nodes`, unit: 'bytes', runs: [r.statusBytes],
      baseline: { label: 'origins in the version vector', runs: [r.vectorOrigins], unit: '' } })
    if (r.bulk !== undefined) report.row({ section: S, id: `scale.${r.n}.bulk`, label: `${r.bulk.keys.toLocaleString('en-US')} keys on every one of ${r.n} nodes`, unit: 'ms', runs: [r.bulk.ms] })
    if (r.joinMs !== undefined) report.row({ section: S, id: `scale.${r.n}.join`, label: `new node → full replica, ${r.n} nodes`, unit: 'ms', runs: [r.joinMs],
      note: r === base ? 'a node started with --peer of the last node only; timed from its spawn to the same version vector and key count as that node; every replica then compared by SHA-256 of its kv_store rows' : undefined })
  }
  report.detail('scale', results)
  const charted = results.filter(r => r.latency !== undefined)
  const xs = charted.map(r => r.n)
  if (charted.length > 0) report.chart('scale', sizeChartSvg(xs, [
    { name: 'RSS per node (MB)', values: charted.map(r => median(r.rssMB)) },
    { name: 'idle CPU per node (% of a core)', values: charted.map(r => median(r.idleCpuPct)) },
    { name: 'idle TCP per node (B/s)', values: charted.map(r => median(r.idleWire)) },
    { name: `p99 put → event at ${RATE}/s (ms)`, values: charted.map(r => r.latency.p99) },
    { name: 'join, full replica (s)', values: charted.map(r => (r.joinMs ?? NaN) / 1000) }
  ], { title: 'murmur: cost per node against cluster size', subtitle: `real murmurd on 127.0.0.1, ${cpus().length} cores; each chart on its own scale` }), 'cost per node against cluster size')
  if (failed.length > 0) throw new Error(`${failed.map(n => `${n} nodes`).join(', ')} failed (reported as far as they got): ${results.filter(r => r.error).map(r => r.error.slice(0, 200)).join('; ')}`)
}
