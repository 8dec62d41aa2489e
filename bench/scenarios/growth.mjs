/**
 * 7. Growth: propagation p99 and per-node CPU at a steady 100 writes/s for
 * clusters of 3, 10 and 30 nodes (3 and 10 with --quick). The 3-node figures
 * come from the propagation section (same method, same run).
 */
import { cpus } from 'node:os'
import { removeDir, tempDir } from '../lib/daemon.mjs'
import { Cluster } from '../lib/cluster.mjs'
import { EventRouter, meshReady, subscribeAll } from '../lib/propagation.mjs'
import { median } from '../lib/stats.mjs'
import { steadyRuns } from './propagation.mjs'

export async function growth ({ quick, runs, report, log, shared }) {
  const sizes = quick ? [10] : [10, 30]
  const ms = quick ? 3_000 : 10_000
  const results = { ...(shared.steady ?? {}) }
  for (const n of sizes) {
    const root = tempDir()
    const cluster = new Cluster(root, `g${n}-`)
    try {
      const started = performance.now()
      const nodes = await cluster.start(n, { concurrency: 4 })
      await cluster.connected()
      log(`  ${n} nodes started and connected in ${((performance.now() - started) / 1000).toFixed(1)} s`)
      const router = new EventRouter()
      await subscribeAll(nodes, router.route)
      await meshReady(nodes, 0, router, { withinMs: n >= 30 ? 1_500 : 500, timeoutMs: 90_000 })
      results[n] = await steadyRuns(nodes, router, { runs, ms, tag: `g${n}-`, idleMs: quick ? 1_000 : 5_000, log, graceMs: 5_000 })
      shared.latencies[`${n} nodes, 100/s`] = results[n].windows.flatMap(m => m.latencies)
    } finally {
      await cluster.stop()
      removeDir(root)
    }
  }
  const S = '7 growth'
  const base = results[3]
  for (const n of [3, ...sizes]) {
    const r = results[n]
    if (r == null) continue
    report.row({ section: S, id: `growth.${n}.p99`, label: `p99 put → event, ${n} nodes, 100 writes/s`, unit: 'ms', runs: r.windows.map(m => m.latency.p99),
      baseline: base != null ? { label: '3 nodes', runs: base.windows.map(m => m.latency.p99) } : undefined,
      target: n === 10 ? { on: 'value', op: '<=', limit: 100, text: '≤ 100 ms' } : n === 3 ? { on: 'value', op: '<=', limit: 20, text: '≤ 20 ms' } : undefined,
      note: n === 3
        ? 'node i > 0 started with --peer of node ⌊(i−1)/2⌋ and the node before that one (a binary tree with cross links); writes on node 0, events timed on every other node; an event not delivered within the grace period (2 s for 3 nodes, 5 s for larger clusters) counts as infinitely late'
        : undefined })
    report.row({ section: S, id: `growth.${n}.cpu`, label: `CPU per node, ${n} nodes, 100 writes/s`, unit: '% of a core', runs: r.perNodeCpuPct,
      baseline: base != null ? { label: '3 nodes', runs: base.perNodeCpuPct, unit: '%' } : undefined,
      note: `median over the receiving nodes; the same nodes idle: ${r.idlePct.toFixed(1)}% of a core each; CPU per replicated write (idle subtracted, subscribers included): ${median(r.cpuPerWrite).toFixed(2)} ms; ` +
        `the whole cluster used ${median(r.clusterCores).toFixed(2)} of this machine's ${cpus().length} cores and the machine was ${(median(r.machineBusy) * 100).toFixed(0)}% busy` })
  }
  report.detail('growth', Object.fromEntries(Object.entries(results).map(([n, r]) => [n, {
    windows: r.windows.map(m => ({ sent: m.sent, delivered: m.delivered, expected: m.expected, latency: m.latency, ack: m.ack, afterAck: m.afterAck })),
    perNodeCpuPct: r.perNodeCpuPct, idlePct: r.idlePct, cpuPerWrite: r.cpuPerWrite, clusterCores: r.clusterCores, machineBusy: r.machineBusy, loadGenCores: r.loadGenCores
  }])))
}
