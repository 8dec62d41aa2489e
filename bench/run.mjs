#!/usr/bin/env node
/**
 * murmur benchmarks: `npm run bench [-- --quick] [-- --runs N] [-- --only a,b]`.
 *
 * This process is the load generator: it starts real murmurd processes on
 * 127.0.0.1 (random ports, mDNS and DHT off, temporary data dirs), drives them
 * over their JSON-RPC sockets, and writes bench/results/<date>.{json,md,svg}.
 * Every figure is quoted as the median of several runs next to a baseline
 * measured in the same run.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { ROOT, cleanup, daemonLogs, daemonNodeArgs, forgetDaemons, installCleanup } from './lib/daemon.mjs'
import { cdfSvg } from './lib/chart.mjs'
import { Report } from './lib/report.mjs'
import { catchup } from './scenarios/catchup.mjs'
import { cli } from './scenarios/cli.mjs'
import { cost } from './scenarios/cost.mjs'
import { etcd } from './scenarios/etcd.mjs'
import { growth } from './scenarios/growth.mjs'
import { heal } from './scenarios/heal.mjs'
import { idle } from './scenarios/idle.mjs'
import { peers } from './scenarios/peers.mjs'
import { propagation } from './scenarios/propagation.mjs'
import { relay } from './scenarios/relay.mjs'
import { resume } from './scenarios/resume.mjs'
import { scale } from './scenarios/scale.mjs'
import { links } from './scenarios/links.mjs'
import { throughput } from './scenarios/throughput.mjs'

const SCENARIOS = { throughput, propagation, growth, catchup, heal, cost, idle, cli, relay, resume, peers, scale, links, etcd }
/** Sections run only when named in --only: they take many minutes. */
const OPT_IN = new Set(['scale', 'links'])

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench/results') },
    profile: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false }
  }
})
if (opts.help) {
  process.stdout.write(`usage: npm run bench -- [--quick] [--runs N] [--only ${Object.keys(SCENARIOS).join(',')}] [--out DIR] [--profile]
  --quick    about a minute: shorter windows, fewer repetitions, no 30-node cluster, no 1,000,000-key node
  --runs N   repetitions whose median is quoted (default 3; 2 with --quick)
  --only     run only these sections (comma-separated)
  --out      where <date>.json, <date>.md and <date>.svg go (default bench/results)
  --profile  run every murmurd under node --cpu-prof; profiles land in <out>/profiles-<date>/
  --sizes    cluster sizes for the scale section (default 3,10,30,100; 3,10 with --quick) and the links section (default 30; 10 with --quick)
  scale runs only when named in --only: it starts up to 100 daemons and takes about ten minutes
  links runs only when named in --only: full peer books, every member dialled against --peer-links 8 (a few minutes)
`)
  process.exit(0)
}
const quick = opts.quick
const runs = Number(opts.runs ?? (quick ? 2 : 3))
if (!Number.isInteger(runs) || runs < 1 || runs > 9) throw new Error('--runs must be a whole number from 1 to 9')
const only = opts.only?.split(',').map(s => s.trim()).filter(Boolean) ?? Object.keys(SCENARIOS).filter(name => !OPT_IN.has(name))
const sizes = opts.sizes?.split(',').map(Number)
if (sizes != null && !sizes.every(n => Number.isInteger(n) && n >= 2 && n <= 200)) throw new Error('--sizes takes cluster sizes from 2 to 200, comma-separated')
for (const name of only) if (SCENARIOS[name] == null) throw new Error(`unknown section "${name}"; choose from ${Object.keys(SCENARIOS).join(', ')}`)

const log = (...args) => { process.stderr.write(args.join(' ') + '\n') }
installCleanup(log)

const startedAt = new Date()
const stamp = startedAt.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')
mkdirSync(opts.out, { recursive: true })
if (opts.profile) {
  const dir = join(opts.out, `profiles-${stamp}`)
  mkdirSync(dir, { recursive: true })
  daemonNodeArgs.push('--cpu-prof', '--cpu-prof-dir', dir)
  log(`profiles: ${dir}`)
}

// A hard stop, whatever happens: the full run is meant to take well under 15 minutes.
const hardCapMs = (quick ? 5 : 25) * 60_000 + (only.includes('idle') ? runs * (quick ? 1 : 3) * 60_000 : 0) + (only.includes('scale') ? (quick ? 5 : 40) * 60_000 : 0) + (only.includes('links') ? (quick ? 5 : 20) * 60_000 : 0)
const watchdog = setTimeout(() => {
  log(`bench: still running after ${hardCapMs / 60_000} minutes; stopping`)
  cleanup().finally(() => process.exit(1))
}, hardCapMs)

const git = cmd => { try { return execFileSync('git', cmd, { cwd: ROOT, encoding: 'utf8' }).trim() } catch { return undefined } }
const pressure = () => { try { return execFileSync('cat', ['/proc/pressure/cpu'], { encoding: 'utf8' }).split('\n')[0] } catch { return undefined } }
const report = new Report({
  date: stamp,
  quick,
  runs,
  command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
  node: process.version,
  git: { commit: git(['rev-parse', '--short', 'HEAD']), dirtyFiles: git(['status', '--porcelain', '--', 'packages'])?.split('\n').filter(Boolean).length },
  host: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30), kernel: `Linux ${release()}`, loadavg: loadavg(), cpuPressureAtStart: pressure() },
  sections: only,
  errors: []
})
const shared = { latencies: {} }
const t0 = performance.now()
log(`murmur bench${quick ? ' --quick' : ''}: ${runs} runs per figure; sections: ${only.join(', ')}`)
for (const name of only) {
  const t = performance.now()
  log(`\n[${name}]`)
  forgetDaemons()
  try {
    await SCENARIOS[name]({ quick, runs, report, log, shared, sizes })
  } catch (err) {
    log(`  ${name} failed: ${err.stack ?? err}`)
    report.meta.errors.push({ section: name, error: String(err.message ?? err) })
    const logFile = join(opts.out, `${stamp}-${name}-failure.log`)
    writeFileSync(logFile, `${err.stack ?? err}\n\n${daemonLogs()}\n`)
    log(`  daemon logs: ${logFile}`)
    await cleanup() // whatever that section left running
  }
  log(`  (${((performance.now() - t) / 1000).toFixed(1)} s)`)
}
clearTimeout(watchdog)
report.meta.durationMs = performance.now() - t0
report.meta.host.loadavgAtEnd = loadavg()
report.meta.host.cpuPressureAtEnd = pressure()

const files = []
for (const { name, svg, title } of report.charts) {
  writeFileSync(join(opts.out, `${stamp}-${name}.svg`), svg)
  files.push({ title, file: `${stamp}-${name}.svg` })
}
if (Object.keys(shared.latencies).length > 0) {
  const svg = cdfSvg(shared.latencies, { title: 'murmur: propagation latency (CDF)', subtitle: `${stamp}${quick ? ' --quick' : ''}; kv_put on node 0 → kv_subscription on every other node; every window of the run pooled; 127.0.0.1, ${cpus().length} cores` })
  writeFileSync(join(opts.out, `${stamp}.svg`), svg)
  files.push({ title: 'propagation latency CDF', file: `${stamp}.svg` })
}
writeFileSync(join(opts.out, `${stamp}.json`), JSON.stringify(report.toJSON(), (k, v) => typeof v === 'number' && !Number.isFinite(v) ? String(v) : v, 2) + '\n')
writeFileSync(join(opts.out, `${stamp}.md`), report.markdown({ chartFiles: files }))
process.stdout.write('\n' + report.table() + '\n\n')
const missed = report.rows.filter(r => r.met === false).length
const met = report.rows.filter(r => r.met === true).length
process.stdout.write(`targets: ${met} met, ${missed} missed${report.meta.errors.length > 0 ? `; ${report.meta.errors.length} section(s) failed` : ''}; ${(report.meta.durationMs / 1000).toFixed(0)} s\n`)
process.stdout.write(`results: ${join(opts.out, stamp)}.{json,md}${files.length > 0 ? ` and ${files.map(f => f.file).join(', ')}` : ''}\n`)
await cleanup()
process.exit(report.meta.errors.length > 0 ? 1 : 0)
