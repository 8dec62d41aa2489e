/**
 * `npm run sim -- [--seed N | --seeds N [--from S]] [--regressions] [--hostile] [--nodes N] [--no-shrink]`
 *
 * Runs seeds (1, 2, 3… by default) and checks every run. A failure prints
 * its seed, what broke, the shortest failing scenario found, its trace, and
 * the one-line command that replays it exactly.
 */
import { parseArgs } from 'node:util'
import { REGRESSIONS } from './regressions.js'
import { scenario, type Scenario, type ScenarioOptions } from './scenario.js'
import { shrink } from './shrink.js'
import { describe, run, type RunResult } from './world.js'
import { scaleMain, SCALE_USAGE } from './scale/scale-cli.js'

export interface CliIO {
  out: (text: string) => void
  err: (text: string) => void
  tty: boolean
}

const defaultIO: CliIO = { out: text => process.stdout.write(text), err: text => process.stderr.write(text), tty: process.stderr.isTTY === true }

const USAGE = `usage: npm run sim -- [options]
  --seed N          run seed N alone and print its trace (replays a failure exactly)
  --seeds N         run N seeds (default 100), starting at --from (default 1)
  --from S          the first seed
  --regressions     run the scenario built for each hole of issue #10, and for each failure seeds found since
  --hostile         every seed has a hostile member (default: one in four)
  --nodes N         every seed has N honest nodes (default: 2 to 12, mostly 3 to 5)
  --no-shrink       report a failure without looking for a shorter one

or the scale model (gossipsub mesh, anti-entropy and GC at fleet sizes; see README):
${SCALE_USAGE}`

export async function main (argv: string[], io: CliIO = defaultIO): Promise<number> {
  if (argv.some(arg => arg === '--scale' || arg.startsWith('--scale='))) return await scaleMain(argv, io)
  let opts
  try {
    opts = parseArgs({
      args: argv,
      options: {
        seed: { type: 'string' },
        seeds: { type: 'string' },
        from: { type: 'string' },
        regressions: { type: 'boolean', default: false },
        hostile: { type: 'boolean', default: false },
        nodes: { type: 'string' },
        'no-shrink': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false }
      }
    }).values
  } catch (err) {
    io.err(`sim: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (opts.help) {
    io.out(USAGE)
    return 0
  }
  const number = (flag: string, value: string | undefined, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback
    const n = Number(value)
    if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${flag} must be a whole number from ${min} to ${max}, not "${value}"`)
    return n
  }
  let options: ScenarioOptions
  let seeds: number[]
  try {
    options = { ...(opts.hostile ? { hostile: true } : {}), ...(opts.nodes !== undefined ? { nodes: number('nodes', opts.nodes, 3, 2, 64) } : {}) }
    if (opts.seed !== undefined) seeds = [number('seed', opts.seed, 1, 0, 2 ** 32 - 1)]
    else {
      const from = number('from', opts.from, 1, 0, 2 ** 32 - 1)
      seeds = Array.from({ length: number('seeds', opts.seeds, 100, 1, 10_000_000) }, (_, i) => from + i)
    }
  } catch (err) {
    io.err(`sim: ${(err as Error).message}\n`)
    return 2
  }
  const named = opts.regressions ? Object.entries(REGRESSIONS).map(([name, make]) => ({ name, scenario: make() })) : []
  const all: Array<{ name: string, scenario: Scenario }> = [...named, ...(opts.regressions && opts.seeds === undefined && opts.seed === undefined ? [] : seeds.map(seed => ({ name: `seed ${seed}`, scenario: scenario(seed, options) })))]
  return hunt(all, { verbose: opts.seed !== undefined, shrink: !opts['no-shrink'], options, io })
}

interface HuntOptions { verbose: boolean, shrink: boolean, options: ScenarioOptions, io: CliIO }

function hunt (all: Array<{ name: string, scenario: Scenario }>, { verbose, shrink: shrinking, options, io }: HuntOptions): number {
  const started = Date.now()
  const totals: Record<string, number> = {}
  let lastDraw = 0
  for (let i = 0; i < all.length; i++) {
    const { name, scenario: s } = all[i] as { name: string, scenario: Scenario }
    const result = run(s)
    for (const [k, v] of Object.entries(result.counts)) totals[k] = k === 'maxWaitingBytes' ? Math.max(totals[k] ?? 0, v) : (totals[k] ?? 0) + v
    if (verbose) io.out(`${name}: ${s.nodes.length} nodes${s.hostile !== undefined ? ' + a hostile member' : ''}, ${s.closed ? 'closed' : 'open'} group, ${s.links !== undefined ? `${s.links} links dialled a node, ` : ''}${s.actions.length} actions, ${(s.faultsUntil / 1000).toFixed(0)} s of faults\n${result.trace.map(l => `  ${l}`).join('\n')}\n`)
    if (result.failures.length > 0) {
      if (io.tty) io.err('\n')
      report(name, s, result, shrinking, options, io)
      return 1
    }
    const now = Date.now()
    if (all.length > 1 && (now - lastDraw > 200 || i === all.length - 1)) {
      lastDraw = now
      progress(i + 1, all.length, now - started, io)
    }
  }
  const seconds = (Date.now() - started) / 1000
  const faults = ['crashes', 'partitions', 'clockJumps', 'diskFull', 'hostileActs', 'dropped', 'duplicated', 'streamsBroken'].reduce((sum, k) => sum + (totals[k] ?? 0), 0)
  io.out(`\n${all.length} runs passed in ${seconds.toFixed(1)} s (${(all.length / seconds).toFixed(1)} runs/s)\n` +
    `  faults injected: ${faults.toLocaleString('en')} (${totals.crashes ?? 0} crashes, ${totals.partitions ?? 0} partitions, ${totals.clockJumps ?? 0} clock jumps, ${totals.diskFull ?? 0} full disks, ${totals.hostileActs ?? 0} hostile acts, ${totals.dropped ?? 0} messages dropped, ${totals.duplicated ?? 0} duplicated, ${totals.streamsBroken ?? 0} syncs broken)\n` +
    `  work: ${(totals.writes ?? 0).toLocaleString('en')} writes (${(totals.expiring ?? 0).toLocaleString('en')} with a TTL, ${(totals.refreshes ?? 0).toLocaleString('en')} refreshes), ${(totals.gossip ?? 0).toLocaleString('en')} gossip deliveries, ${(totals.frames ?? 0).toLocaleString('en')} sync frames (${(totals.rows ?? 0).toLocaleString('en')} snapshot rows), ${totals.visits ?? 0} links dialled for a recheck, ${totals.snapshots ?? 0} snapshots, ${totals.tombstonesCollected ?? 0} tombstones collected, ${totals.refused ?? 0} ops refused, ${totals.equivocations ?? 0} second versions kept, ${(totals.signedLater ?? 0).toLocaleString('en')} own ops signed as they left (${(totals.sharedProofs ?? 0).toLocaleString('en')} sends with one proof for several commits, ${(totals.rodeProofs ?? 0).toLocaleString('en')} whose proofs rode a commit's fsync)\n` +
    `  checks passed on every run: identical rows (every kv_store column, byte for byte) and prefixes on every honest replica, every key the winner of every op that exists, every acknowledged write present or superseded (and the current value or in history), the same history and conflicts on every replica, no op both its key's row and a past version, no value shown past its expiry and every replica showing the same keys at one HLC moment, change cursors whole, waiting ops within budget (largest seen: ${totals.maxWaitingBytes ?? 0} bytes) and none left that could apply\n`)
  return 0
}

function report (name: string, s: Scenario, result: RunResult, shrinking: boolean, options: ScenarioOptions, io: CliIO): void {
  io.out(`\nFAILED: ${name}\n${result.failures.map(f => `  ${f}`).join('\n')}\n`)
  let shown = { scenario: s, result }
  if (shrinking && s.actions.length > 1) {
    const small = shrink(s, result)
    io.out(`\nshortest failing scenario found (${small.runs} runs): ${small.scenario.actions.length} of ${s.actions.length} actions\n${small.scenario.actions.map(a => `  ${(a.at / 1000).toFixed(3)}s ${describe(a)}`).join('\n')}\n`)
    shown = small
  }
  io.out(`\ntrace (last ${shown.result.trace.length} events):\n${shown.result.trace.map(l => `  ${l}`).join('\n')}\n`)
  const flags = [options.hostile === true ? ' --hostile' : '', options.nodes !== undefined ? ` --nodes ${options.nodes}` : ''].join('')
  io.out(`\nreplay: ${name.startsWith('seed ') ? `npm run sim -- --seed ${s.seed}${flags}` : 'npm run sim -- --regressions'}\n`)
}

function progress (done: number, total: number, ms: number, io: CliIO): void {
  const rate = done / Math.max(ms / 1000, 0.001)
  if (io.tty) {
    const width = 30
    const filled = Math.round(width * done / total)
    io.err(`\r[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${done.toLocaleString('en')}/${total.toLocaleString('en')} runs · ${rate.toFixed(1)}/s · eta ${Math.round((total - done) / rate)} s `)
  } else if (done === total || done % Math.max(1, Math.floor(total / 10)) === 0) {
    io.err(`${done}/${total} runs (${rate.toFixed(1)}/s)\n`)
  }
}
