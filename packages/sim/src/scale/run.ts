/**
 * One scale run, in phases of virtual time, each measured on its own:
 *
 * 1. warm-up (20 s): connections, each pulling from the other, meshes forming;
 * 2. rest (30 s): no writes; bytes per node per second;
 * 3. writes (`rate` a second for `writeSeconds`, each from a random node, a
 *    new key, a value of `valueBytes`): when 99 % and all of the fleet hold each write,
 *    bytes per node per second, then up to 120 s for the last ones to land;
 *    then rest again (30 s), now with every writer an origin in each vector;
 * 4. a third of the fleet cut off for 30 s while a tenth of the rate goes on
 *    both sides, then healed: time until every node holds every write;
 * 5. churn (`churnPerMin` of the nodes leave each minute, for 10–60 s):
 *    20 keys written and deleted at its start; the time from each delete
 *    until every node has collected its tombstone.
 *
 * Every phase is bounded by virtual time and by a number of events; a phase
 * that runs out of events throws.
 */
import { attestationKey, attestEvery, attestIntervalFor, attestMsPerOriginFor, encodeFrame, PullSession, type Op } from '@murmur/core'
import { Rng } from '../rng.js'
import { Fleet, type FleetInit } from './fleet.js'
import { attestationTraffic } from './estimate.js'
import { Tracker } from './tracker.js'
import { TRAFFIC, type Traffic } from './wire.js'

export interface ScaleOptions extends Omit<FleetInit, 'attest'> {
  /**
   * Attestations: 'all' phases; 'gc', only in the churn phase (where they are
   * what collection waits for; in the others they are estimated, see
   * estimate.ts); 'off' (no churn phase then: nothing would be collected).
   */
  attest: 'all' | 'gc' | 'off'
  rate: number
  writeSeconds: number
  /** Who writes: a random node each time, or always this one (the bench writes on node 0). */
  writer: 'random' | number
  valueBytes: number
  restSeconds: number
  partition: boolean
  churnPerMin: number
  /** Skip the partition and churn phases (a quick comparison run). */
  phases: 'all' | 'writes'
}

export interface ScaleReport {
  nodes: number
  seed: number
  links: { median: number, max: number }
  restBytes: Record<Traffic | 'total', number>
  /** At rest again after the writes: every writer (and attester) now an origin in each vector. */
  restAfterBytes: Record<Traffic | 'total', number>
  writeBytes: Record<Traffic | 'total', number>
  /** Over writes: ms from the write until 99 % / all nodes hold it. */
  t99: { p50: number, p99: number }
  t100: { p50: number, p99: number }
  /** Over (write, node) pairs: ms from the write until that node holds it. */
  delivery: { p50: number, p99: number }
  /** Writes every node held by the end of the write phase's drain. */
  complete: number
  partitionHealMs?: number
  tombstones?: { collectedMs: { p50: number, max: number }, left: number, departures: number }
  /** What one anti-entropy exchange and one attestation weigh at the end. */
  /** Bytes counted (in + out, all nodes) per byte published, for gossip of writes: the mesh's amplification. */
  fanOut: number
  /** Attestation bytes per node per second with every node attesting as often as `attestEvery` lets it (the N origins it names), from the encoder and `fanOut`. */
  attestEstimate: number
  helloBytes: number
  attestationBytes: number
  origins: number
  wallMs: number
  /** Real time each phase took, ms. */
  phaseMs: Record<string, number>
  rssMB: number
  events: number
}

export const defaults: Omit<ScaleOptions, 'seed' | 'nodes'> = {
  topology: { kind: 'random', dials: 8, maxPeers: 16, latency: [10, 150] },
  jitter: 0.1,
  antiEntropyMs: 5_000,
  graceMs: 30_000,
  attestIntervalMs: attestIntervalFor(30_000),
  attest: 'all',
  gossip: true,
  shortHellos: true,
  claimPulls: true,
  rate: 100,
  writeSeconds: 10,
  writer: 'random',
  valueBytes: 100,
  restSeconds: 30,
  partition: true,
  churnPerMin: 0.03,
  phases: 'all'
}

export function runScale (options: ScaleOptions): ScaleReport {
  const started = Date.now()
  const fleet = new Fleet({ ...options, attest: options.attest === 'all' })
  const n = options.nodes
  const rng = new Rng(options.seed).fork('scale')
  const tracker = new Tracker(fleet)
  let rss = 0
  const phaseMs: Record<string, number> = {}
  let mark = Date.now()
  const lap = (name: string): void => {
    phaseMs[name] = Date.now() - mark
    mark = Date.now()
  }
  const phase = (until: number): void => {
    const cap = 3_000_000 + 40_000 * n * (until - fleet.sched.now) / 1000
    if (fleet.sched.run(until, cap)) throw new Error(`scale: more than ${cap} events before ${until / 1000} s of virtual time: something never settles`)
    rss = Math.max(rss, process.memoryUsage().rss)
  }
  const perSecond = (seconds: number): Record<Traffic | 'total', number> => {
    const out = Object.fromEntries([...TRAFFIC, 'total'].map(t => [t, 0])) as Record<Traffic | 'total', number>
    for (const b of fleet.bytes) for (const t of TRAFFIC) out[t] += b[t]
    for (const t of TRAFFIC) out.total += out[t]
    for (const t of [...TRAFFIC, 'total'] as const) out[t] = Math.round(out[t] / n / seconds)
    return out
  }
  const writer = (): number => {
    if (options.writer !== 'random') return options.writer
    const up = fleet.nodes.filter(node => node.up)
    return (rng.pick(up.length > 0 ? up : fleet.nodes)).index
  }
  const write = (key: string, value: string | null): void => {
    const node = fleet.nodes[writer()]
    tracker.expect(key, fleet.sched.now)
    node?.write([{ key, value: value === null ? null : Buffer.from(value) }])
  }
  const writesFor = (seconds: number, rate: number, prefix: string): void => {
    const start = fleet.sched.now
    const count = Math.round(seconds * rate)
    for (let i = 0; i < count; i++) fleet.sched.at(start + i * 1000 / rate, () => { write(`${prefix}${i}`, 'v'.repeat(options.valueBytes)) })
  }

  fleet.start()
  phase(20_000)
  lap('warm')
  fleet.resetBytes()
  phase(fleet.sched.now + options.restSeconds * 1000)
  const restBytes = perSecond(options.restSeconds)
  lap('rest')

  fleet.resetBytes()
  writesFor(options.writeSeconds, options.rate, 'w')
  phase(fleet.sched.now + options.writeSeconds * 1000)
  const writeBytes = perSecond(options.writeSeconds)
  const fanOut = fleet.bytes.reduce((sum, b) => sum + b.gossip, 0) / Math.max(1, fleet.published.gossip)
  const writeEnd = fleet.sched.now
  for (let s = 0; s < 120 && !tracker.allEverywhere(); s++) phase(fleet.sched.now + 1_000)
  const steady = tracker.summary()
  lap('writes')
  phase(fleet.sched.now + 5_000) // the last attestations the writes prompted
  fleet.resetBytes()
  phase(fleet.sched.now + options.restSeconds * 1000)
  const restAfterBytes = perSecond(options.restSeconds)
  lap('rest after')
  const report: ScaleReport = {
    nodes: n,
    seed: options.seed,
    links: linkStats(fleet),
    restBytes,
    restAfterBytes,
    writeBytes,
    ...steady,
    fanOut: Math.round(fanOut * 10) / 10,
    // each node attests once every attestEvery(n) while writes go on: that many fall in the write phase, at most
    attestEstimate: attestationTraffic(n, fanOut, Math.ceil(options.writeSeconds * 1_000 / attestEvery(n, options.attestIntervalMs, attestMsPerOriginFor(options.graceMs))) / options.writeSeconds),
    helloBytes: 0,
    attestationBytes: 0,
    origins: 0,
    wallMs: 0,
    phaseMs,
    rssMB: 0,
    events: 0
  }
  if (options.phases === 'all') {
    if (options.partition) report.partitionHealMs = partitionPhase(fleet, tracker, phase, writesFor, options.rate / 10)
    lap('partition')
    fleet.attesting(options.attest !== 'off')
    if (options.attest !== 'off') report.tombstones = churnPhase(fleet, rng, tracker, phase, write, options.churnPerMin)
    lap('churn')
  }
  const last = fleet.nodes[n - 1]
  if (last !== undefined) {
    report.helloBytes = encodeFrame(new PullSession(last.replica, { group: 'sim', name: last.id }).hello()).length
    report.attestationBytes = (last.replica.store.row(attestationKey(last.id)) as Op | undefined)?.value?.length ?? 0
    report.origins = Object.keys(last.replica.vector()).length
  }
  report.wallMs = Date.now() - started
  report.rssMB = Math.round(rss / 2 ** 20)
  report.events = fleet.sched.events
  return report
}

type Phase = (until: number) => void

function partitionPhase (fleet: Fleet, tracker: Tracker, phase: Phase, writesFor: (s: number, rate: number, prefix: string) => void, rate: number): number | undefined {
  tracker.reset()
  fleet.partition(i => i % 3 === 0 ? 1 : 0)
  writesFor(30, rate, 'p')
  phase(fleet.sched.now + 30_000)
  fleet.partition(undefined)
  const healed = fleet.sched.now
  for (let s = 0; s < 120 && !tracker.allEverywhere(); s++) phase(fleet.sched.now + 1_000)
  return tracker.allEverywhere() ? tracker.lastComplete() - healed : undefined
}

function churnPhase (fleet: Fleet, rng: Rng, tracker: Tracker, phase: Phase, write: (key: string, value: string | null) => void, perMin: number): ScaleReport['tombstones'] {
  tracker.reset()
  const churn = rng.fork('churn')
  const keys = Array.from({ length: 20 }, (_, i) => `t${i}`)
  for (const key of keys) write(key, `${key}:${'v'.repeat(96)}`)
  phase(fleet.sched.now + 5_000)
  const deleted = fleet.sched.now
  for (const key of keys) write(key, null)
  const collectedAt = new Map<string, number>()
  let departures = 0
  const churnUntil = deleted + 120_000
  for (let s = 0; s < 400 && collectedAt.size < keys.length; s++) {
    if (fleet.sched.now < churnUntil) {
      for (const node of fleet.nodes) {
        if (!node.up || !churn.chance(perMin / 60)) continue
        departures++
        fleet.leave(node.index)
        fleet.sched.after(churn.int(10, 60) * 1000, () => { fleet.rejoin(node.index) })
      }
    }
    phase(fleet.sched.now + 1_000)
    for (const key of keys) {
      if (collectedAt.has(key)) continue
      if (fleet.nodes.every(node => node.replica.store.row(key) === undefined)) collectedAt.set(key, fleet.sched.now - deleted)
    }
  }
  const times = [...collectedAt.values()].sort((a, b) => a - b)
  return { collectedMs: { p50: times[Math.floor(times.length / 2)] ?? NaN, max: times.at(-1) ?? NaN }, left: keys.length - times.length, departures }
}

function linkStats (fleet: Fleet): ScaleReport['links'] {
  const sizes = fleet.links.map(l => l.size).sort((a, b) => a - b)
  return { median: sizes[Math.floor(sizes.length / 2)] ?? 0, max: sizes.at(-1) ?? 0 }
}
