/**
 * 11. The write path with peers (issue #15): the same writer, driven the
 * same way, alone and then with peers, in one run. Per run: a fresh writer
 * measures sequential kv_put, 16 clients and batches of 1,000 alone; two
 * peers join it (`--peer`), and once the three hold identical replicas:
 * put → event p99 at 100 writes/s, quiet and then beside a bounded busy
 * process on one core; the writes again, with the CPU each node spent per
 * replicated write; one peer stopped while 1,000 keys are written and
 * restarted (spawn → it holds every one of them); then seven more peers join and
 * the sequential puts and loaded p99 are measured again with 9 peers.
 */
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Daemon, removeDir, sleep, tempDir } from '../lib/daemon.mjs'
import { converged } from '../lib/cluster.mjs'
import { BusyProcess } from '../lib/busy.mjs'
import { batchedPuts, concurrentPuts, sequentialPuts, valueOf, warmUp } from '../lib/load.mjs'
import { EventRouter, cpuOf, idleCpu, meshReady, measureSteady, subscribeAll, unsubscribeAll } from '../lib/propagation.mjs'
import { median } from '../lib/stats.mjs'
import { holds } from '../lib/replicas.mjs'

const VALUE_BYTES = 100
const CLIENTS = 16
const BATCH = 1000
const MISSED = 1000

const rate = ({ count, seconds }) => count / seconds

/** The writes one node takes: sequential, 16 clients, batches (each bounded by `ms`). */
async function writes (node, clients, { ms, tag, value }) {
  return {
    seq: await sequentialPuts(node.ctl, { prefix: `${tag}s`, ms, max: 200_000, value }),
    conc: rate(await concurrentPuts(clients, { prefix: `${tag}c`, ms, max: 500_000, value })),
    batch: rate(await batchedPuts(node.ctl, { prefix: `${tag}b`, ms, max: 2_000_000, size: BATCH, value }))
  }
}

/** Starts `n` more peers of `writer` (each `--peer` the writer), and waits for identical replicas and a formed gossip mesh. */
async function addPeers (root, writer, nodes, n) {
  const first = nodes.length
  const added = Array.from({ length: n }, (_, i) => new Daemon(`q${first + i}`, join(root, `q${first + i}`), { peers: [writer.addr] }))
  nodes.push(...added)
  for (let i = 0; i < added.length; i += 4) await Promise.all(added.slice(i, i + 4).map(async d => await d.start()))
  await converged(nodes, { timeoutMs: 120_000 })
}

/** put → event p99 at 100 writes/s on `nodes`, quiet and then beside a busy process on one core. */
async function quietAndLoaded (nodes, { ms, tag }) {
  const router = new EventRouter()
  await subscribeAll(nodes, router.route)
  try {
    await meshReady(nodes, 0, router)
    const quiet = await measureSteady(nodes, 0, router, { rate: 100, ms, tag: `${tag}q` })
    const busy = new BusyProcess(ms + 4_000)
    try {
      const loaded = await measureSteady(nodes, 0, router, { rate: 100, ms, tag: `${tag}l` })
      return { quiet: quiet.latency, loaded: loaded.latency }
    } finally {
      await busy.stop()
    }
  } finally {
    await unsubscribeAll(nodes)
  }
}

export async function peers ({ quick, runs, report, log }) {
  const ms = quick ? 1_000 : 3_000
  const windowMs = quick ? 2_000 : 5_000
  const warmMs = quick ? 2_000 : 6_000
  const value = valueOf(VALUE_BYTES)
  const r = { alone: [], conc0: [], batch0: [], seq2: [], conc2: [], batch2: [], seq9: [], cpuOrigin: [], cpuReplica: [], restart: [], restartReady: [], p99quiet3: [], p99loaded3: [], p99quiet10: [], p99loaded10: [] }
  for (let run = 0; run < runs; run++) {
    const root = tempDir()
    const writer = new Daemon('w', join(root, 'w'))
    const nodes = [writer]
    const clients = []
    try {
      await writer.start()
      clients.push(writer.ctl, ...await Promise.all(Array.from({ length: CLIENTS - 1 }, async () => await writer.client())))
      await warmUp(clients, { ms: warmMs, value })
      const alone = await writes(writer, clients, { ms, tag: 'a', value })
      r.alone.push(rate(alone.seq)); r.conc0.push(alone.conc); r.batch0.push(alone.batch)

      await addPeers(root, writer, nodes, 2)
      // the new peers' receiving path warms up as the writer's publishing does
      await warmUp(clients, { prefix: 'warm2', ms: warmMs, value })
      const p3 = await quietAndLoaded(nodes, { ms: windowMs, tag: `p${run}` })
      r.p99quiet3.push(p3.quiet.p99); r.p99loaded3.push(p3.loaded.p99)
      await converged(nodes)
      const idle = await idleCpu(nodes, 1_000)
      const before = cpuOf(nodes)
      const start = performance.now()
      const two = await writes(writer, clients, { ms, tag: 'b', value })
      r.seq2.push(rate(two.seq)); r.conc2.push(two.conc); r.batch2.push(two.batch)
      // CPU per replicated write over the sequential puts alone, measured again on their own
      const cpuStart = cpuOf(nodes)
      const t0 = performance.now()
      const seq = await sequentialPuts(writer.ctl, { prefix: `cpu${run}`, ms, max: 200_000, value })
      await converged(nodes)
      const spent = cpuOf(nodes).map((c, i) => (c - cpuStart[i] - idle[i] * (performance.now() - t0) / 1000) / seq.count)
      r.cpuOrigin.push(spent[0]); r.cpuReplica.push(median(spent.slice(1)))
      log(`  run ${run + 1}: alone seq ${r.alone.at(-1).toFixed(0)}/s, ${CLIENTS} clients ${alone.conc.toFixed(0)}/s, batches ${alone.batch.toFixed(0)}/s; ` +
        `2 peers seq ${r.seq2.at(-1).toFixed(0)}/s, ${CLIENTS} clients ${two.conc.toFixed(0)}/s, batches ${two.batch.toFixed(0)}/s ` +
        `(${((performance.now() - start) / 1000).toFixed(1)} s, CPU ${cpuOf(nodes).map((c, i) => ((c - before[i]) / 1000).toFixed(1)).join('/')} s); ` +
        `CPU per write origin ${spent[0].toFixed(2)} ms, replicas ${spent.slice(1).map(x => x.toFixed(2)).join('/')} ms; ` +
        `p99 quiet ${p3.quiet.p99.toFixed(1)} ms, loaded ${p3.loaded.p99.toFixed(1)} ms`)

      // a peer misses 1,000 keys (down past gossip's 3 s window), then restarts
      const peer = nodes[2]
      await peer.stop()
      await batchedPuts(writer.ctl, { prefix: `missed${run}`, ms: 30_000, max: MISSED, size: MISSED, value })
      const written = (await writer.status()).versionVector[writer.id]
      await sleep(quick ? 3_500 : 5_000)
      await peer.start()
      const at = await holds(peer, writer.id, written)
      r.restart.push(at - peer.startedAt); r.restartReady.push(at - peer.startedAt - peer.readyMs)
      await converged(nodes)

      await addPeers(root, writer, nodes, 7)
      await warmUp(clients, { prefix: 'warm9', ms: warmMs, value })
      r.seq9.push(rate(await sequentialPuts(writer.ctl, { prefix: `nine${run}`, ms, max: 200_000, value })))
      const p10 = await quietAndLoaded(nodes, { ms: windowMs, tag: `t${run}` })
      r.p99quiet10.push(p10.quiet.p99); r.p99loaded10.push(p10.loaded.p99)
      log(`  run ${run + 1}: restart → caught up on ${MISSED} keys ${r.restart.at(-1).toFixed(0)} ms (ready → caught up ${r.restartReady.at(-1).toFixed(0)} ms); ` +
        `9 peers seq ${r.seq9.at(-1).toFixed(0)}/s; 10 nodes p99 quiet ${p10.quiet.p99.toFixed(1)} ms, loaded ${p10.loaded.p99.toFixed(1)} ms`)
    } finally {
      for (const c of clients) c.close()
      await Promise.all(nodes.map(async n => await n.stop()))
      removeDir(root)
    }
  }
  const S = '11 peers'
  report.row({ section: S, id: 'peers.seq2', label: 'sequential kv_put, 2 peers', unit: 'puts/s', runs: r.seq2,
    baseline: { label: 'the same node alone', runs: r.alone }, target: { on: 'ratio', op: '>=', limit: 0.8, text: '≥ 0.80× alone' } })
  report.row({ section: S, id: 'peers.seq9', label: 'sequential kv_put, 9 peers', unit: 'puts/s', runs: r.seq9,
    baseline: { label: 'the same node alone', runs: r.alone }, target: { on: 'ratio', op: '>=', limit: 0.7, text: '≥ 0.70× alone' } })
  report.row({ section: S, id: 'peers.concurrent2', label: `kv_put, ${CLIENTS} clients, 2 peers`, unit: 'puts/s', runs: r.conc2,
    baseline: { label: `${CLIENTS} clients alone`, runs: r.conc0 } })
  report.row({ section: S, id: 'peers.batched2', label: `kv_put in batches of ${BATCH.toLocaleString('en-US')}, 2 peers`, unit: 'keys/s', runs: r.batch2,
    baseline: { label: 'batches alone', runs: r.batch0, unit: 'keys/s' }, target: { on: 'value', op: '>=', limit: 100_000, text: '≥ 100,000 keys/s' } })
  report.row({ section: S, id: 'peers.cpuOrigin', label: 'CPU per replicated write (sequential puts), origin', unit: 'ms', runs: r.cpuOrigin,
    target: { on: 'value', op: '<=', limit: 0.3, text: '≤ 0.3 ms' } })
  report.row({ section: S, id: 'peers.cpuReplica', label: 'CPU per replicated write (sequential puts), each replica', unit: 'ms', runs: r.cpuReplica,
    baseline: { label: 'origin', runs: r.cpuOrigin, unit: 'ms' }, target: { on: 'value', op: '<=', limit: 0.3, text: '≤ 0.3 ms' } })
  report.row({ section: S, id: 'peers.restart', label: `restart → caught up on ${MISSED.toLocaleString('en-US')} missed keys (from spawn)`, unit: 'ms', runs: r.restart,
    baseline: { label: 'ready → caught up', runs: r.restartReady, unit: 'ms' }, target: { on: 'value', op: '<=', limit: 500, text: '≤ 500 ms' } })
  report.row({ section: S, id: 'peers.loaded3', label: 'put → event p99, 3 nodes, 100 writes/s, beside a busy core', unit: 'ms', runs: r.p99loaded3,
    baseline: { label: 'quiet', runs: r.p99quiet3, unit: 'ms' }, target: { on: 'ratio', op: '<=', limit: 3, text: '≤ 3× quiet' } })
  report.row({ section: S, id: 'peers.loaded10', label: 'put → event p99, 10 nodes, 100 writes/s, beside a busy core', unit: 'ms', runs: r.p99loaded10,
    baseline: { label: 'quiet', runs: r.p99quiet10, unit: 'ms' }, target: { on: 'value', op: '<=', limit: 100, text: '≤ 100 ms' } })
  report.detail('peers', { ms, windowMs, valueBytes: VALUE_BYTES, ...r })
}
