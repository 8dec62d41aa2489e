/**
 * 13. murmur next to etcd (issue #15), optional: skipped with one line when
 * no `etcd` is on PATH (Debian's `etcd-server` 3.4; the bench installs
 * nothing). Per run, a 3-member etcd cluster and then 3 murmurd (two `--peer`
 * the first), each with its default durability (etcd fsyncs its WAL; murmur
 * `--durability full`), driven from this process the same way: sequential
 * puts on member 0 from one client, 16 clients on member 0, and put → watch
 * event on the other two members at 100 writes/s (p50, p99); CPU per write
 * over the sequential puts on the member written to and on each other one
 * (idle use taken out; etcd's member written to is made the raft leader, as
 * murmur's writer is its own); and a member that misses 1,000 puts (from 16
 * clients), down past gossip's window, restarted: spawn → it holds them all
 * (etcd: a serializable count on that member; murmur: its version vector).
 */
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { connect } from 'node:net'
import { removeDir, sleep, tempDir } from '../lib/daemon.mjs'
import { Cluster, converged } from '../lib/cluster.mjs'
import { EtcdCluster, etcdVersion } from '../lib/etcd.mjs'
import { concurrentPuts, sequentialPuts, valueOf, warmUp } from '../lib/load.mjs'
import { EventRouter, cpuOf, idleCpu, meshReady, measureSteady, subscribeAll } from '../lib/propagation.mjs'
import { holds } from '../lib/replicas.mjs'
import { median, summary } from '../lib/stats.mjs'

const VALUE_BYTES = 100
const CLIENTS = 16
/** Puts the restarted member misses. */
const MISSED = 1_000
const rate = ({ count, seconds }) => count / seconds

/** Sequential etcd puts on `client` until `ms` or `max`. */
async function etcdSequential (client, { prefix, ms, max, value }) {
  const start = performance.now()
  let n = 0
  while (n < max && performance.now() - start < ms) await client.put(`${prefix}:${n++}`).value(value)
  return { count: n, seconds: (performance.now() - start) / 1000 }
}

/** Puts at `perSecond` on `writer` for `ms`; latency from each send to its watch event on every watcher (undelivered: infinite). */
async function etcdPropagation (writer, watchClients, { perSecond, ms, tag, value, graceMs = 2_000 }) {
  const sentAt = new Map()
  const latencies = []
  const watchers = await Promise.all(watchClients.map(async c => await c.watch().prefix(`${tag}:`).create()))
  for (const w of watchers) w.on('put', kv => { const t = sentAt.get(kv.key.toString()); if (t !== undefined) latencies.push(performance.now() - t) })
  const total = Math.floor(perSecond * ms / 1000)
  const start = performance.now()
  const pending = []
  for (let i = 0; i < total && performance.now() - start < ms * 1.5 + 1_000; i++) {
    const due = start + i * 1000 / perSecond
    if (due > performance.now()) await sleep(due - performance.now())
    const key = `${tag}:${i}`
    sentAt.set(key, performance.now())
    pending.push(writer.put(key).value(value).exec()) // exec(): the builder sends nothing until awaited
  }
  await Promise.all(pending)
  const until = performance.now() + graceMs
  while (latencies.length < sentAt.size * watchers.length && performance.now() < until) await sleep(5)
  await Promise.all(watchers.map(async w => await w.cancel()))
  return summary(latencies.concat(new Array(Math.max(0, sentAt.size * watchers.length - latencies.length)).fill(Infinity)))
}

/**
 * CPU per write of each of `processes` over `work` (which resolves to
 * { count }), once `settled(result)` resolves (every member has applied it),
 * with each one's idle use over the second before taken out: { writer,
 * replica (the median of the others), result }.
 */
async function cpuPerWrite (processes, work, settled) {
  const idle = await idleCpu(processes, 1_000)
  const before = cpuOf(processes)
  const start = performance.now()
  const result = await work()
  await settled(result)
  const seconds = (performance.now() - start) / 1000
  const spent = cpuOf(processes).map((c, i) => (c - before[i] - idle[i] * seconds) / result.count)
  return { writer: spent[0], replica: median(spent.slice(1)), result }
}

/** `MISSED` puts from `CLIENTS` clients at once, `put(client, key)` each. */
async function missedPuts (clients, prefix, put) {
  await Promise.all(clients.map(async (c, k) => { for (let n = k; n < MISSED; n += clients.length) await put(c, `${prefix}:${n}`) }))
}

/** Resolves once something accepts TCP connections on `url`'s port at 127.0.0.1 (polled every 5 ms). */
async function listening (url, timeoutMs = 30_000) {
  const port = Number(new URL(url).port)
  const deadline = performance.now() + timeoutMs
  while (!await new Promise(resolve => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => { resolve(false) })
  })) {
    if (performance.now() > deadline) throw new Error(`nothing listens on ${url} after ${timeoutMs} ms`)
    await sleep(5)
  }
}

/** etcd member `i` misses `MISSED` puts, down `pauseMs`, and restarts: ms from its spawn until it holds them all (a serializable count on it). */
async function etcdRestart (cluster, i, { prefix, value, pauseMs, timeoutMs = 60_000 }) {
  await cluster.stopMember(i)
  await missedPuts(Array.from({ length: CLIENTS }, () => cluster.client(0)), prefix, async (c, key) => await c.put(key).value(value))
  await sleep(pauseMs)
  cluster.spawn(i)
  const { url, startedAt } = cluster.members[i]
  await listening(url)
  const client = cluster.client(i)
  while (true) {
    const count = await client.getAll().prefix(`${prefix}:`).serializable(true).count().catch(() => -1)
    if (count >= MISSED) return performance.now() - startedAt
    if (performance.now() - startedAt > timeoutMs) throw new Error(`etcd member e${i} holds ${count} of ${MISSED} missed keys after ${timeoutMs} ms`)
    await sleep(5)
  }
}

/** Until every etcd member's serializable count of `prefix` is `count`. */
async function etcdSettled (clients, prefix, count, timeoutMs = 30_000) {
  const deadline = performance.now() + timeoutMs
  while ((await Promise.all(clients.map(async c => await c.getAll().prefix(`${prefix}:`).serializable(true).count()))).some(n => n < count)) {
    if (performance.now() > deadline) throw new Error(`etcd members do not all hold ${count} keys under ${prefix} after ${timeoutMs} ms`)
    await sleep(5)
  }
}

export async function etcd ({ quick, runs, report, log }) {
  const version = etcdVersion()
  if (version === undefined) {
    log('  skipped: no etcd on PATH (Debian: apt-get install etcd-server)')
    return
  }
  log(`  ${version}`)
  const ms = quick ? 1_000 : 3_000
  const windowMs = quick ? 2_000 : 5_000
  const pauseMs = quick ? 3_500 : 5_000
  const value = valueOf(VALUE_BYTES)
  const r = { etcdSeq: [], etcdConc: [], etcdP50: [], etcdP99: [], etcdCpuWriter: [], etcdCpuReplica: [], etcdRestart: [], murmurSeq: [], murmurConc: [], murmurP50: [], murmurP99: [], murmurCpuWriter: [], murmurCpuReplica: [], murmurRestart: [] }
  for (let run = 0; run < runs; run++) {
    const root = tempDir('murmur-bench-etcd-')
    const etcdCluster = new EtcdCluster(root)
    const cluster = new Cluster(root, 'm')
    const clients = []
    try {
      await etcdCluster.start()
      await etcdCluster.lead(0)
      const [e0, e1, e2] = etcdCluster.clients
      await etcdSequential(e0, { prefix: 'warm', ms: 300, max: 1_000, value })
      const etcdCpu = await cpuPerWrite(etcdCluster.processes,
        async () => await etcdSequential(e0, { prefix: `s${run}`, ms, max: 200_000, value }),
        async ({ count }) => { await etcdSettled([e0, e1, e2], `s${run}`, count) })
      r.etcdSeq.push(rate(etcdCpu.result)); r.etcdCpuWriter.push(etcdCpu.writer); r.etcdCpuReplica.push(etcdCpu.replica)
      const etcdClients = Array.from({ length: CLIENTS }, () => etcdCluster.client(0))
      const started = performance.now()
      const counts = await Promise.all(etcdClients.map(async (c, i) => (await etcdSequential(c, { prefix: `c${run}:${i}`, ms, max: 50_000, value })).count))
      r.etcdConc.push(counts.reduce((a, b) => a + b, 0) / ((performance.now() - started) / 1000))
      const e = await etcdPropagation(e0, [e1, e2], { perSecond: 100, ms: windowMs, tag: `p${run}`, value: valueOf(16) })
      r.etcdP50.push(e.p50); r.etcdP99.push(e.p99)
      r.etcdRestart.push(await etcdRestart(etcdCluster, 2, { prefix: `missed${run}`, value, pauseMs }))
      await etcdCluster.stop()

      const nodes = await cluster.start(3)
      await cluster.connected()
      await converged(nodes)
      const writer = nodes[0]
      clients.push(writer.ctl, ...await Promise.all(Array.from({ length: CLIENTS - 1 }, async () => await writer.client())))
      // etcd is compiled ahead of time; murmurd warms up its JIT (see warmUp)
      await warmUp(clients, { ms: quick ? 2_000 : 6_000, value })
      const murmurCpu = await cpuPerWrite(nodes,
        async () => await sequentialPuts(writer.ctl, { prefix: `s${run}`, ms, max: 200_000, value }),
        async () => { await converged(nodes) })
      r.murmurSeq.push(rate(murmurCpu.result)); r.murmurCpuWriter.push(murmurCpu.writer); r.murmurCpuReplica.push(murmurCpu.replica)
      r.murmurConc.push(rate(await concurrentPuts(clients, { prefix: `c${run}`, ms, max: 500_000, value })))
      const router = new EventRouter()
      await subscribeAll(nodes, router.route)
      await meshReady(nodes, 0, router)
      const m = await measureSteady(nodes, 0, router, { rate: 100, ms: windowMs, tag: `p${run}` })
      r.murmurP50.push(m.latency.p50); r.murmurP99.push(m.latency.p99)
      // the third member misses MISSED puts, down past gossip's window, then restarts
      const peer = nodes[2]
      await peer.stop()
      await missedPuts(clients, `missed${run}`, async (c, key) => await c.call('kv_put', { key, value }))
      const written = (await writer.status()).versionVector[writer.id]
      await sleep(pauseMs)
      await peer.start()
      r.murmurRestart.push(await holds(peer, writer.id, written) - peer.startedAt)
      log(`  run ${run + 1}: sequential etcd ${r.etcdSeq.at(-1).toFixed(0)}/s, murmur ${r.murmurSeq.at(-1).toFixed(0)}/s; ` +
        `${CLIENTS} clients etcd ${r.etcdConc.at(-1).toFixed(0)}/s, murmur ${r.murmurConc.at(-1).toFixed(0)}/s; ` +
        `put → watch event p50/p99 etcd ${e.p50.toFixed(1)}/${e.p99.toFixed(1)} ms, murmur ${m.latency.p50.toFixed(1)}/${m.latency.p99.toFixed(1)} ms; ` +
        `CPU per write (written to / each other) etcd ${etcdCpu.writer.toFixed(2)}/${etcdCpu.replica.toFixed(2)} ms, murmur ${murmurCpu.writer.toFixed(2)}/${murmurCpu.replica.toFixed(2)} ms; ` +
        `restart → holds ${MISSED} missed etcd ${r.etcdRestart.at(-1).toFixed(0)} ms, murmur ${r.murmurRestart.at(-1).toFixed(0)} ms`)
    } finally {
      for (const c of clients) c.close()
      await etcdCluster.stop()
      await cluster.stop()
      removeDir(root)
    }
  }
  const S = '13 etcd'
  const ahead = { on: 'ratio', op: '>=', limit: 1, text: '≥ 1× etcd' }
  const sooner = { on: 'ratio', op: '<=', limit: 1, text: '≤ 1× etcd' }
  report.row({ section: S, id: 'etcd.sequential', label: 'murmur, 3 nodes: sequential puts, 1 client', unit: 'puts/s', runs: r.murmurSeq,
    baseline: { label: `etcd 3-member (${version.replace(/^etcd Version: /, '')}), same work`, runs: r.etcdSeq }, target: ahead })
  report.row({ section: S, id: 'etcd.concurrent', label: `murmur, 3 nodes: puts, ${CLIENTS} clients`, unit: 'puts/s', runs: r.murmurConc,
    baseline: { label: 'etcd, same work', runs: r.etcdConc }, target: ahead })
  report.row({ section: S, id: 'etcd.p50', label: 'murmur, 3 nodes: put → watch event p50, 100 writes/s', unit: 'ms', runs: r.murmurP50,
    baseline: { label: 'etcd, same work', runs: r.etcdP50 }, target: sooner })
  report.row({ section: S, id: 'etcd.p99', label: 'murmur, 3 nodes: put → watch event p99, 100 writes/s', unit: 'ms', runs: r.murmurP99,
    baseline: { label: 'etcd, same work', runs: r.etcdP99 }, target: sooner })
  report.row({ section: S, id: 'etcd.cpuWriter', label: 'murmur, 3 nodes: CPU per sequential put, member written to', unit: 'ms', runs: r.murmurCpuWriter,
    baseline: { label: 'etcd (its leader), same work', runs: r.etcdCpuWriter }, target: sooner })
  report.row({ section: S, id: 'etcd.cpuReplica', label: 'murmur, 3 nodes: CPU per sequential put, each other member', unit: 'ms', runs: r.murmurCpuReplica,
    baseline: { label: 'etcd (its followers), same work', runs: r.etcdCpuReplica }, target: sooner })
  report.row({ section: S, id: 'etcd.restart', label: `murmur, 3 nodes: restart → holds ${MISSED.toLocaleString('en-US')} missed puts (from spawn)`, unit: 'ms', runs: r.murmurRestart,
    baseline: { label: 'etcd, same work', runs: r.etcdRestart }, target: sooner })
  report.detail('etcd', { version, ms, windowMs, valueBytes: VALUE_BYTES, ...r })
}
