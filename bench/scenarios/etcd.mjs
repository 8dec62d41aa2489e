/**
 * 13. murmur next to etcd (issue #15), optional: skipped with one line when
 * no `etcd` is on PATH (Debian's `etcd-server` 3.4; the bench installs
 * nothing). Per run, a 3-member etcd cluster and then 3 murmurd (two `--peer`
 * the first), each with its default durability (etcd fsyncs its WAL; murmur
 * `--durability full`), driven from this process the same way: sequential
 * puts on member 0 from one client, 16 clients on member 0, and put → watch
 * event on the other two members at 100 writes/s (p50, p99).
 */
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { removeDir, sleep, tempDir } from '../lib/daemon.mjs'
import { Cluster, converged } from '../lib/cluster.mjs'
import { EtcdCluster, etcdVersion } from '../lib/etcd.mjs'
import { concurrentPuts, sequentialPuts, valueOf, warmUp } from '../lib/load.mjs'
import { EventRouter, meshReady, measureSteady, subscribeAll } from '../lib/propagation.mjs'
import { summary } from '../lib/stats.mjs'

const VALUE_BYTES = 100
const CLIENTS = 16
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

export async function etcd ({ quick, runs, report, log }) {
  const version = etcdVersion()
  if (version === undefined) {
    log('  skipped: no etcd on PATH (Debian: apt-get install etcd-server)')
    return
  }
  log(`  ${version}`)
  const ms = quick ? 1_000 : 3_000
  const windowMs = quick ? 2_000 : 5_000
  const value = valueOf(VALUE_BYTES)
  const r = { etcdSeq: [], etcdConc: [], etcdP50: [], etcdP99: [], murmurSeq: [], murmurConc: [], murmurP50: [], murmurP99: [] }
  for (let run = 0; run < runs; run++) {
    const root = tempDir('murmur-bench-etcd-')
    const etcdCluster = new EtcdCluster(root)
    const cluster = new Cluster(root, 'm')
    const clients = []
    try {
      await etcdCluster.start()
      const [e0, e1, e2] = etcdCluster.clients
      await etcdSequential(e0, { prefix: 'warm', ms: 300, max: 1_000, value })
      r.etcdSeq.push(rate(await etcdSequential(e0, { prefix: `s${run}`, ms, max: 200_000, value })))
      const etcdClients = Array.from({ length: CLIENTS }, () => etcdCluster.client(0))
      const started = performance.now()
      const counts = await Promise.all(etcdClients.map(async (c, i) => (await etcdSequential(c, { prefix: `c${run}:${i}`, ms, max: 50_000, value })).count))
      r.etcdConc.push(counts.reduce((a, b) => a + b, 0) / ((performance.now() - started) / 1000))
      const e = await etcdPropagation(e0, [e1, e2], { perSecond: 100, ms: windowMs, tag: `p${run}`, value: valueOf(16) })
      r.etcdP50.push(e.p50); r.etcdP99.push(e.p99)
      await etcdCluster.stop()

      const nodes = await cluster.start(3)
      await cluster.connected()
      await converged(nodes)
      const writer = nodes[0]
      clients.push(writer.ctl, ...await Promise.all(Array.from({ length: CLIENTS - 1 }, async () => await writer.client())))
      // etcd is compiled ahead of time; murmurd warms up its JIT (see warmUp)
      await warmUp(clients, { ms: quick ? 2_000 : 6_000, value })
      r.murmurSeq.push(rate(await sequentialPuts(writer.ctl, { prefix: `s${run}`, ms, max: 200_000, value })))
      r.murmurConc.push(rate(await concurrentPuts(clients, { prefix: `c${run}`, ms, max: 500_000, value })))
      const router = new EventRouter()
      await subscribeAll(nodes, router.route)
      await meshReady(nodes, 0, router)
      const m = await measureSteady(nodes, 0, router, { rate: 100, ms: windowMs, tag: `p${run}` })
      r.murmurP50.push(m.latency.p50); r.murmurP99.push(m.latency.p99)
      log(`  run ${run + 1}: sequential etcd ${r.etcdSeq.at(-1).toFixed(0)}/s, murmur ${r.murmurSeq.at(-1).toFixed(0)}/s; ` +
        `${CLIENTS} clients etcd ${r.etcdConc.at(-1).toFixed(0)}/s, murmur ${r.murmurConc.at(-1).toFixed(0)}/s; ` +
        `put → watch event p50/p99 etcd ${e.p50.toFixed(1)}/${e.p99.toFixed(1)} ms, murmur ${m.latency.p50.toFixed(1)}/${m.latency.p99.toFixed(1)} ms`)
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
  report.detail('etcd', { version, ms, windowMs, valueBytes: VALUE_BYTES, ...r })
}
