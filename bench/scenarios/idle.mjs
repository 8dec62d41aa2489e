/**
 * 14. An idle node (issue #14): three murmurd on 127.0.0.1, the second and
 * third started with `--peer` of the first, mDNS and DHT off, nothing
 * written. After a settle (90 s; 20 s with --quick: anti-entropy slows down
 * over the first minute and a quarter of quiet), per node over a window (60 s;
 * 20 s with --quick): CPU (utime + stime from /proc) as % of a core, and
 * VmRSS at its end. Each run is a fresh cluster. The rows quote the dearest
 * node of each run (the first: two connections, the one the others pull from)
 * against the issue's ≤ 70 MB and ≤ 0.5 % of a core; RSS's baseline is a bare
 * `node` process with one timer, measured over the same window (its CPU is
 * in the note).
 */
import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { cpuMsOf, removeDir, rssOf, sleep, tempDir } from '../lib/daemon.mjs'
import { Cluster } from '../lib/cluster.mjs'

const MB = 1e6

/** A bare Node process that wakes once a second: what any Node program costs here. */
function bareNode () {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  return { pid: child.pid, stop: async () => { child.kill('SIGKILL'); await new Promise(resolve => child.exitCode != null || child.signalCode != null ? resolve() : child.once('exit', resolve)) } }
}

async function idleOnce (run, { quick, log }) {
  const root = tempDir()
  const cluster = new Cluster(root, `i${run}-`)
  const bare = bareNode()
  try {
    // the second and third are told the first only
    const nodes = await cluster.start(3, { peers: i => i === 0 ? [] : [0] })
    await cluster.connected()
    await sleep(quick ? 20_000 : 90_000)
    const procs = [...nodes.map(n => n.pid), bare.pid]
    const cpu0 = procs.map(cpuMsOf)
    const t0 = performance.now()
    await sleep(quick ? 20_000 : 60_000)
    const seconds = (performance.now() - t0) / 1000
    const cpuPct = procs.map((pid, i) => (cpuMsOf(pid) - cpu0[i]) / seconds / 10)
    const rssMB = procs.map(pid => rssOf(pid) / MB)
    log(`  run ${run + 1}: CPU ${cpuPct.slice(0, 3).map(x => x.toFixed(2)).join(' / ')} % of a core, RSS ${rssMB.slice(0, 3).map(x => x.toFixed(1)).join(' / ')} MB ` +
      `(bare node ${cpuPct[3].toFixed(2)} %, ${rssMB[3].toFixed(1)} MB)`)
    return { cpuPct: cpuPct.slice(0, 3), rssMB: rssMB.slice(0, 3), bare: { cpuPct: cpuPct[3], rssMB: rssMB[3] } }
  } finally {
    await bare.stop()
    await cluster.stop()
    removeDir(root)
  }
}

export async function idle ({ quick, runs, report, log }) {
  const results = []
  for (let run = 0; run < runs; run++) results.push(await idleOnce(run, { quick, log }))
  const S = '14 idle'
  const window = quick ? '20 s window after 20 s settling (--quick: anti-entropy has not yet slowed to its bound)' : '60 s window after 90 s settling'
  report.row({ section: S, id: 'idle.rss', label: 'RSS of an idle node (dearest of 3)', unit: 'MB', runs: results.map(r => Math.max(...r.rssMB)),
    baseline: { label: 'bare node', runs: results.map(r => r.bare.rssMB) },
    target: { on: 'value', op: '<=', limit: 70, text: '≤ 70 MB' },
    note: `VmRSS (MB = 10^6 bytes) at the end of a ${window}; three nodes, two told the first, mDNS and DHT off; every node: ${results.map(r => r.rssMB.map(x => x.toFixed(1)).join('/')).join(', ')}` })
  report.row({ section: S, id: 'idle.cpu', label: 'CPU of an idle node (dearest of 3)', unit: '% of a core', runs: results.map(r => Math.max(...r.cpuPct)),
    target: { on: 'value', op: '<=', limit: 0.5, text: '≤ 0.5 %' },
    note: `utime + stime from /proc over a ${window}; every node: ${results.map(r => r.cpuPct.map(x => x.toFixed(2)).join('/')).join(', ')}; ` +
      `a bare node (no baseline ratio: it rounds to 0): ${results.map(r => r.bare.cpuPct.toFixed(3)).join(', ')} %` })
  report.detail('idle', results)
}
