/**
 * `npm run sim -- --scale 10,30,100[,…] [options]`: the scale model (see
 * run.ts), one run per size, printed as tables and written as JSON.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { attestIntervalFor } from '@murmur/core'
import { GC_ATTEST_MAX, REAL_ATTEST_MAX } from './estimate.js'
import { table } from './report.js'
import { defaults, runScale, type ScaleReport } from './run.js'
import type { CliIO } from '../cli.js'

export const SCALE_USAGE = `usage: npm run sim -- --scale SIZES [options]
  --scale N[,N…]     fleet sizes, e.g. 10,30,100,300,1000 (2–20000)
  --seed N           the seed (default 1): the same seed gives the same report
  --rate N           writes a second in the write phase (default 100)
  --write-seconds N  length of the write phase (default 10)
  --writer N         every write on node N (default: a random node each time)
  --value-bytes N    each write's value (default 100)
  --topology T       random (each node dials 8, at most 16 links; default) or tree (the bench's)
  --latency A-B      one-way latency per link, ms (default 10-150)
  --attest all|gc|off|auto  attestations in every phase, in the churn phase only, or none
                     (auto: all up to ${REAL_ATTEST_MAX} nodes, gc up to ${GC_ATTEST_MAX}, then off)
  --no-gossip        anti-entropy alone (no gossipsub)
  --whole-hellos     every pull sends the whole vector (as before /murmur/sync/3.1.0's short hello)
  --no-claim-pulls   no pull from a member whose pull named ops this node lacks (as before 3.1.0)
  --digest-pulls-at-once  a short hello answered with a vector naming more brings the whole
                     pull at once, not 500 ms later if gossip has not brought the ops (as before)
  --writes-only      the write phase only: no partition, no churn
  --churn PCT        nodes leaving a minute in the churn phase, % (default 3)
  --grace MS         tombstone grace (default 30000; murmurd's is 300000)
  --attest-interval MS  least time between a node's attestations (default: murmurd's
                     rule, a tenth of the grace within 1000-10000)
  --out DIR          where scale-<seed>-<sizes>.json goes (default bench/results)
`

export async function scaleMain (argv: string[], io: CliIO): Promise<number> {
  let opts
  try {
    opts = parseArgs({
      args: argv,
      options: {
        scale: { type: 'string' },
        seed: { type: 'string', default: '1' },
        rate: { type: 'string', default: String(defaults.rate) },
        'write-seconds': { type: 'string', default: String(defaults.writeSeconds) },
        writer: { type: 'string' },
        'value-bytes': { type: 'string', default: String(defaults.valueBytes) },
        topology: { type: 'string', default: 'random' },
        latency: { type: 'string', default: '10-150' },
        attest: { type: 'string', default: 'auto' },
        'no-gossip': { type: 'boolean', default: false },
        'whole-hellos': { type: 'boolean', default: false },
        'no-claim-pulls': { type: 'boolean', default: false },
        'digest-pulls-at-once': { type: 'boolean', default: false },
        'writes-only': { type: 'boolean', default: false },
        churn: { type: 'string', default: String(defaults.churnPerMin * 100) },
        grace: { type: 'string', default: String(defaults.graceMs) },
        'attest-interval': { type: 'string' },
        out: { type: 'string', default: 'bench/results' }
      }
    }).values
    const sizes = (opts.scale ?? '').split(',').map(Number)
    const latency = (opts.latency ?? '').split('-').map(Number)
    const seed = Number(opts.seed)
    const rate = Number(opts.rate)
    const writeSeconds = Number(opts['write-seconds'])
    if (!sizes.every(n => Number.isInteger(n) && n >= 2 && n <= 20_000)) throw new RangeError(`--scale takes sizes from 2 to 20000, not "${opts.scale}"`)
    if (latency.length !== 2 || !latency.every(x => Number.isFinite(x) && x >= 0) || (latency[0] as number) > (latency[1] as number)) throw new RangeError(`--latency takes A-B in ms, not "${opts.latency}"`)
    if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`--seed must be a whole number, not "${opts.seed}"`)
    if (!(rate > 0 && rate <= 10_000)) throw new RangeError(`--rate must be from 1 to 10000, not "${opts.rate}"`)
    if (!(Number.isInteger(writeSeconds) && writeSeconds >= 1 && writeSeconds <= 600)) throw new RangeError(`--write-seconds must be from 1 to 600, not "${opts['write-seconds']}"`)
    const writer = opts.writer === undefined ? 'random' : Number(opts.writer)
    const valueBytes = Number(opts['value-bytes'])
    const churn = Number(opts.churn)
    if (!(churn >= 0 && churn <= 100)) throw new RangeError(`--churn must be from 0 to 100 (% a minute), not "${opts.churn}"`)
    if (writer !== 'random' && !(Number.isInteger(writer) && writer >= 0 && sizes.every(n => writer < n))) throw new RangeError(`--writer must be a node of every size, not "${opts.writer}"`)
    if (!(Number.isInteger(valueBytes) && valueBytes >= 0 && valueBytes <= 1_000_000)) throw new RangeError(`--value-bytes must be from 0 to 1000000, not "${opts['value-bytes']}"`)
    if (opts.topology !== 'random' && opts.topology !== 'tree') throw new RangeError(`--topology is random or tree, not "${opts.topology}"`)
    if (!['all', 'gc', 'off', 'auto'].includes(opts.attest ?? '')) throw new RangeError(`--attest is all, gc, off or auto, not "${opts.attest}"`)
    const graceMs = Number(opts.grace)
    if (!(Number.isInteger(graceMs) && graceMs >= 1_000 && graceMs <= 86_400_000)) throw new RangeError(`--grace must be from 1000 to 86400000 ms, not "${opts.grace}"`)
    const attestIntervalMs = opts['attest-interval'] === undefined ? attestIntervalFor(graceMs) : Number(opts['attest-interval'])
    if (!(Number.isInteger(attestIntervalMs) && attestIntervalMs >= 100 && attestIntervalMs <= 3_600_000)) throw new RangeError(`--attest-interval must be from 100 to 3600000 ms, not "${opts['attest-interval']}"`)
    const reports: ScaleReport[] = []
    for (const nodes of sizes) {
      const attest = opts.attest !== 'auto' ? opts.attest as 'all' | 'gc' | 'off' : nodes <= REAL_ATTEST_MAX ? 'all' : nodes <= GC_ATTEST_MAX ? 'gc' : 'off'
      io.err(`scale: ${nodes} nodes…\n`)
      const report = runScale({
        ...defaults,
        seed,
        nodes,
        rate,
        writeSeconds,
        writer,
        valueBytes,
        churnPerMin: churn / 100,
        graceMs,
        attestIntervalMs,
        topology: { ...defaults.topology, kind: opts.topology, latency: latency as [number, number] },
        attest,
        gossip: !opts['no-gossip'],
        shortHellos: !opts['whole-hellos'],
        claimPulls: !opts['no-claim-pulls'],
        digestPullsAtOnce: opts['digest-pulls-at-once'],
        phases: opts['writes-only'] ? 'writes' : 'all'
      })
      reports.push(report)
      io.err(`scale: ${nodes} nodes done in ${(report.wallMs / 1000).toFixed(1)} s\n`)
    }
    io.out(table(reports, rate))
    mkdirSync(opts.out ?? '.', { recursive: true })
    const file = join(opts.out ?? '.', `scale-${seed}-${sizes.join('_')}${opts.topology === 'tree' ? '-tree' : ''}.json`)
    writeFileSync(file, JSON.stringify({ options: { ...opts }, reports }, null, 2) + '\n')
    io.out(`\nresults: ${file}\n`)
    return 0
  } catch (err) {
    if (!(err instanceof RangeError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')) throw err
    io.err(`sim: ${(err as Error).message}\n${SCALE_USAGE}`)
    return 2
  }
}
