/**
 * 13. Links (only with `--only links`: it takes minutes): N real murmurd on
 * 127.0.0.1 whose peer books each name every other member (as after mDNS or
 * the DHT found them all, then a restart), started four at a time, twice:
 * with `--peer-links 1000` (every member dialled, as murmurd did before the
 * bound) and with the default 8. Per start, once the links stopped changing
 * (three polls 2 s apart) and after 20 s idle: members linked per node, peers
 * each node dialled, RSS and CPU per node. Sizes from `--sizes` (default 30;
 * 10 with --quick).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Daemon, freePort, removeDir, sleep, tempDir } from '../lib/daemon.mjs'
import { median } from '../lib/stats.mjs'

const IDLE_MS = 20_000
const SETTLE_LIMIT_MS = 90_000
const UNBOUNDED = 1000

async function inPool (items, width, fn) {
  const queue = [...items]
  await Promise.all(Array.from({ length: width }, async () => { while (queue.length > 0) await fn(queue.shift()) }))
}

/** Starts every node with `--peer-links links` and a full peer book; measures once the links settle. */
async function startWith (nodes, book, links) {
  for (const d of nodes) {
    d.args = [...d.baseArgs, '--peer-links', String(links)]
    writeFileSync(join(d.dataDir, 'peers.json'), JSON.stringify(book.filter(entry => entry.id !== d.id)))
  }
  const t = performance.now()
  await inPool(nodes, 4, async d => { await d.start() })
  const startedMs = performance.now() - t
  const settling = performance.now()
  let peers
  for (let last = -1, same = 0; same < 3 && performance.now() - settling < SETTLE_LIMIT_MS;) {
    await sleep(2_000)
    peers = await Promise.all(nodes.map(async d => (await d.ctl.call('p2p_peers', {})).filter(p => p.member)))
    const total = peers.reduce((sum, list) => sum + list.length, 0)
    same = total === last ? same + 1 : 0
    last = total
  }
  const settledMs = performance.now() - settling
  const cpu0 = nodes.map(d => d.cpuMs())
  const idle0 = performance.now()
  await sleep(IDLE_MS)
  const seconds = (performance.now() - idle0) / 1000
  const result = {
    links,
    startedMs,
    settledMs,
    members: peers.map(list => list.length),
    dialled: peers.map(list => list.filter(p => p.dialled === true).length),
    rssMB: nodes.map(d => d.rss() / 2 ** 20),
    cpuPct: nodes.map((d, i) => (d.cpuMs() - cpu0[i]) / 10 / seconds)
  }
  await inPool(nodes, 8, async d => { await d.stop() })
  return result
}

async function linksOnce (n, log) {
  const root = tempDir('murmur-links-')
  const nodes = []
  try {
    for (let i = 0; i < n; i++) {
      const d = new Daemon(`l${i}`, join(root, `l${i}`))
      d.port = await freePort()
      d.baseArgs = ['--listen', `/ip4/127.0.0.1/tcp/${d.port}`]
      d.args = d.baseArgs
      nodes.push(d)
    }
    // each node once, for its identity
    await inPool(nodes, 4, async d => { await d.start(); await d.stop() })
    const book = nodes.map(d => ({ id: d.id, name: d.name, addrs: [`/ip4/127.0.0.1/tcp/${d.port}`], via: 'peerbook', lastSeen: new Date().toISOString() }))
    const every = await startWith(nodes, book, UNBOUNDED)
    log(`  ${n} nodes, every member dialled: ${median(every.members)} members a node, ${median(every.rssMB).toFixed(0)} MB`)
    const bounded = await startWith(nodes, book, 8)
    log(`  ${n} nodes, 8 links: ${median(bounded.members)} members a node, ${median(bounded.rssMB).toFixed(0)} MB`)
    return { every, bounded }
  } finally {
    for (const d of nodes) await d.stop().catch(() => {})
    removeDir(root)
  }
}

export async function links ({ quick, report, log, sizes }) {
  const S = '13 links'
  for (const n of sizes ?? (quick ? [10] : [30])) {
    const { every, bounded } = await linksOnce(n, log)
    const base = { label: `every member (--peer-links ${UNBOUNDED})` }
    const mean = values => values.reduce((a, b) => a + b, 0) / values.length
    report.row({ section: S, id: `links.${n}.members`, label: `members linked a node, ${n} nodes, --peer-links 8`, unit: 'links', runs: [mean(bounded.members)], baseline: { ...base, runs: [mean(every.members)] },
      note: `mean over the nodes once the links stopped changing; min–max ${Math.min(...bounded.members)}–${Math.max(...bounded.members)} (every member: ${Math.min(...every.members)}–${Math.max(...every.members)}); each node dialled at most ${Math.max(...bounded.dialled)} (every member: mean ${mean(every.dialled).toFixed(1)})` })
    report.row({ section: S, id: `links.${n}.rss`, label: `RSS per idle node, ${n} nodes, --peer-links 8`, unit: 'MB', runs: [median(bounded.rssMB)], baseline: { ...base, runs: [median(every.rssMB)] },
      note: `median over the nodes after ${IDLE_MS / 1000} s idle` })
    report.row({ section: S, id: `links.${n}.cpu`, label: `CPU per idle node, ${n} nodes, --peer-links 8`, unit: '% of a core', runs: [median(bounded.cpuPct)], baseline: { ...base, runs: [median(every.cpuPct)] } })
    report.row({ section: S, id: `links.${n}.start`, label: `${n} nodes started, links settled, --peer-links 8`, unit: 's', runs: [(bounded.startedMs + bounded.settledMs) / 1000], baseline: { ...base, runs: [(every.startedMs + every.settledMs) / 1000] },
      note: `four at a time; settled: three polls 2 s apart with the same links (at most ${SETTLE_LIMIT_MS / 1000} s)` })
  }
}
