/**
 * What a run does, drawn from its seed: how many nodes, how the network
 * behaves, how often GC runs, and a timeline of writes and faults. A
 * scenario is plain data, so a failing one can be shrunk (actions removed)
 * and replayed exactly.
 */
import { STUCK_MS } from '@murmur/core'
import { Rng } from './rng.js'

export type HostileAct =
  /** Sends a hello that claims every origin up to 2^53 − 1, and serves a done with no ops. */
  | 'lie-vector'
  /** Re-publishes, and serves, genuine ops it captured earlier (deleted ones above all). */
  | 'replay'
  /** Signs two different ops with one seq, each shown to half of its peers (one held back a while). */
  | 'equivocate'
  /** Publishes a burst of ops stamped 30 minutes and 2 hours ahead. */
  | 'flood-future'
  /** Publishes ops claiming an honest origin, signed with its own key. */
  | 'forge'
  /** Writes an op stamped before its own previous op. */
  | 'backdate'
  /** Attests to holding more than it does. */
  | 'lie-attest'
  /** Publishes ops of origins of its own making, one each, past a gap that never fills (some also past the skew bound). */
  | 'sybils'
  /** Signs a second version of a seq of its own near its floor, stamped now, and shows it to half of its peers: some may have collected past that seq, some not. */
  | 'equivocate-late'

export type Action = { at: number } & (
  /** `refresh`: a keepalive's refresh of the node's own put (a plain put when it is not one by the time it is written, see `Change.refresh`). */
  | { kind: 'write', node: string, key: string, value: string | null, ttlMs?: number, refresh?: true }
  /** One request writing many keys: one group commit, signed in batches of up to 256 ops. */
  | { kind: 'bulk', node: string, keys: string[], value: string }
  | { kind: 'crash', node: string, downFor: number }
  | { kind: 'partition', groups: string[][], healAfter: number }
  /** Pairs that cannot reach each other (a broken link, not a split): `for` ms, or the whole run when absent. */
  | { kind: 'cut', pairs: Array<[string, string]>, for?: number }
  | { kind: 'clock', node: string, offset: number }
  | { kind: 'disk-full', node: string, for: number }
  | { kind: 'hostile', act: HostileAct }
  /** Changes one replica's row behind the replication core's back (a test shows the checks catch it). */
  | { kind: 'tamper', node: string, key: string }
  /** Keeps, on one replica only, a past version of `key` by `origin` that no write made (a test shows the history check catches it). */
  | { kind: 'tamper-history', node: string, key: string, origin: string }
)

export interface Scenario {
  seed: number
  /** Honest nodes. */
  nodes: string[]
  /** A hostile member's ID, when there is one; it also trickles every sync it serves. */
  hostile?: string
  /** A closed group: every node, the hostile one included, is a member from the start (an allow-list). */
  closed: boolean
  net: { latency: [number, number], drop: number, dup: number }
  config: { graceMs: number, retentionMs: number, attestIntervalMs: number, antiEntropyMs: number, maxSkewMs: number, pendingBytes: number }
  /** Each node's clock offset at start (ms). */
  clocks: Record<string, number>
  /** Sorted by time. */
  actions: Action[]
  /** After this (virtual ms) faults stop: partitions heal, nodes come back, clocks stay. */
  faultsUntil: number
  /** Then the run goes on this long for the replicas to settle before the checks. */
  settleMs: number
  /**
   * murmurd's `--peer-links`: when set, each node (the hostile one too) is
   * linked only to this many others it picked at random, and to those that
   * picked it, not to every node (see `linksOf`).
   */
  links?: number
  /**
   * The nodes that speak the sync hello's short form (murmurd's
   * `/murmur/sync/3.1.0`; core `sync/hello.ts`): a pull sends one only when
   * both ends do. All of them in most seeds; none, or some (a fleet half
   * upgraded), in the rest. Absent: none.
   */
  shortHellos?: string[]
  /**
   * The nodes that speak `/murmur/sync/3.2.0` (some of `shortHellos`): a pull
   * between two of them that declines a snapshot ends before its rows, and the
   * next asks for none (core's `Hello.rows`). Absent: none.
   */
  declines?: string[]
  /** A node pulls from a member whose pull named ops it lacks (murmurd's since 3.1.0). Absent: it does not. */
  claimPulls?: boolean
  /**
   * The honest nodes that sign their ops as they leave, several commits a
   * batch (core's `signLater`, as murmurd does); the rest sign each commit.
   * Absent: none.
   */
  signLater?: string[]
}

export interface ScenarioOptions {
  /** Force a hostile member (true) or none (false). Default: one seed in four. */
  hostile?: boolean
  nodes?: number
  /**
   * As murmurd was before sync 3.1.0, for seeds found then (3.1.0 changes
   * their schedules): no node speaks the hello's short form, and none pulls
   * from a member whose pull named ops it lacks.
   */
  before31?: boolean
}

const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']

export function scenario (seed: number, options: ScenarioOptions = {}): Scenario {
  const rng = new Rng(seed).fork('scenario')
  const count = options.nodes ?? rng.pick([2, 3, 3, 3, 4, 4, 5, 5, 6, 8, 12])
  const nodes = Array.from({ length: count }, (_, i) => `n${i}`)
  const hostile = (options.hostile ?? rng.chance(0.25)) ? 'm0' : undefined
  const faultsUntil = rng.int(20, 90) * 1_000
  const graceMs = rng.int(2, 10) * 1_000
  const config = {
    graceMs,
    // mostly longer than any outage; sometimes short enough to evict a node that is down
    retentionMs: rng.chance(0.15) ? rng.int(15, 40) * 1_000 : 3_600_000,
    attestIntervalMs: rng.int(1, 5) * 1_000,
    antiEntropyMs: rng.int(1, 5) * 1_000,
    maxSkewMs: 60_000,
    pendingBytes: rng.chance(0.2) ? 16 * 1024 : 8 * 1024 * 1024
  }
  const clocks: Record<string, number> = {}
  for (const node of nodes) clocks[node] = rng.chance(0.15) ? rng.int(-90, 90) * 1_000 : rng.int(-2_000, 2_000)
  if (hostile !== undefined) clocks[hostile] = rng.int(-2_000, 2_000)
  const actions: Action[] = []
  const at = (): number => rng.int(0, faultsUntil)
  const writes = rng.int(10, 120)
  for (let i = 0; i < writes; i++) {
    const key = rng.chance(0.85) ? rng.pick(KEYS) : `u${rng.int(0, 999)}`
    actions.push({ at: at(), kind: 'write', node: rng.pick(nodes), key, value: rng.chance(0.25) ? null : `v${rng.int(0, 9999)}` })
  }
  for (let i = rng.int(0, 3); i > 0; i--) actions.push({ at: at(), kind: 'crash', node: rng.pick(nodes), downFor: rng.int(1, 30) * 1_000 })
  const everyone = hostile === undefined ? nodes : [...nodes, hostile]
  for (let i = rng.int(0, 3); i > 0; i--) actions.push({ at: at(), kind: 'partition', groups: split(rng, everyone), healAfter: rng.int(2, 40) * 1_000 })
  for (let i = rng.chance(0.2) ? rng.int(1, 2) : 0; i > 0; i--) actions.push({ at: at(), kind: 'clock', node: rng.pick(nodes), offset: rng.int(-90, 90) * 1_000 })
  if (rng.chance(0.1)) actions.push({ at: at(), kind: 'disk-full', node: rng.pick(nodes), for: rng.int(1, 10) * 1_000 })
  if (hostile !== undefined) {
    const acts: HostileAct[] = ['lie-vector', 'replay', 'equivocate', 'flood-future', 'forge', 'backdate', 'lie-attest']
    for (let i = rng.int(2, 8); i > 0; i--) actions.push({ at: at(), kind: 'hostile', act: rng.pick(acts) })
  }
  const closed = rng.chance(0.5)
  const net: Scenario['net'] = { latency: [rng.int(1, 10), rng.int(20, 200)], drop: rng.pick([0, 0, 0.05, 0.2, 0.4]), dup: rng.pick([0, 0, 0.05, 0.2]) }
  // drawn last, so every earlier draw of a seed means what it meant before bulk writes existed
  for (let i = rng.chance(0.3) ? rng.int(1, 4) : 0; i > 0; i--) {
    // keys spread over a wide space, so a snapshot's rows in key order mix ops of many batches
    const keys = new Set(Array.from({ length: rng.int(50, 600) }, () => `b${rng.int(0, 1999)}`))
    actions.push({ at: at(), kind: 'bulk', node: rng.pick(nodes), keys: [...keys], value: `bulk${rng.int(0, 9999)}:${'.'.repeat(rng.int(40, 400))}` })
  }
  // drawn last too: a third of the seeds give some of their puts a TTL, expiring during the faults or after
  if (rng.chance(0.35)) for (const action of actions) if (action.kind === 'write' && action.value !== null && rng.chance(0.3)) action.ttlMs = rng.int(1, 40) * 1_000
  // drawn last of all: a third of the seeds link each node to a few others only, as --peer-links does in a large group
  const links = rng.chance(0.35) ? rng.int(2, 4) : undefined
  // and after the links: a quarter of the seeds keep some of their TTL puts alive, refreshed every third of the TTL a few
  // times within the faults (so no expiry falls later than a TTL put's could, close to the checks)
  if (rng.chance(0.25)) {
    for (const action of [...actions]) {
      if (action.kind !== 'write' || action.ttlMs === undefined || action.value === null || !rng.chance(0.5)) continue
      for (let k = 1, n = rng.int(1, 8); k <= n; k++) {
        const at = action.at + Math.round(k * action.ttlMs / 3)
        if (at <= faultsUntil) actions.push({ ...action, at, refresh: true })
      }
    }
  }
  // drawn after everything else, so each seed's other draws mean what they meant before it existed
  const speakers = rng.chance(0.7) ? everyone : rng.chance(0.5) ? [] : everyone.filter(() => rng.chance(0.5))
  const shortHellos = options.before31 === true ? [] : speakers
  // and after those: most seeds have every node sign as its ops leave, some a mix, some none
  const signLater = rng.chance(0.6) ? nodes : rng.chance(0.5) ? [] : nodes.filter(() => rng.chance(0.5))
  // and after those: most of the short hellos' speakers speak 3.2.0 too, in most seeds
  const declines = rng.chance(0.7) ? shortHellos : rng.chance(0.5) ? [] : shortHellos.filter(() => rng.chance(0.5))
  // and after those: in half the hostile seeds, its ops of many origins that only wait
  if (hostile !== undefined && rng.chance(0.5)) for (let i = rng.int(1, 3); i > 0; i--) actions.push({ at: at(), kind: 'hostile', act: 'sybils' })
  // and after those: in half the hostile seeds, second versions of its own seqs shown late, while floors pass them
  if (hostile !== undefined && rng.chance(0.5)) for (let i = rng.int(1, 4); i > 0; i--) actions.push({ at: rng.int(faultsUntil / 4, faultsUntil), kind: 'hostile', act: 'equivocate-late' })
  actions.sort((a, b) => a.at - b.at)
  const made: Scenario = { seed, nodes, ...(hostile !== undefined ? { hostile } : {}), closed, net, config, clocks, actions, faultsUntil, settleMs: 200_000, ...(links !== undefined ? { links } : {}), shortHellos, declines, claimPulls: options.before31 !== true, signLater }
  // no member may count another silent during the quiet end (it would collect without it just before the checks):
  // the retention outlasts the quiet, the clocks' spread (stamps look that much older) and a heartbeat (a quarter of it)
  config.retentionMs = Math.max(config.retentionMs, Math.ceil(((quietMs(made) + spread(made)) * 4 / 3 + 2_000) / 1_000) * 1_000)
  // where clocks differ by more than the skew bound, an op written as the faults end waits that much longer at the
  // slowest node, and the quiet end (which stops attestations) is that much longer too: both come out of the settling
  // time, or a node that learns something late (a second version, say) has no time left to attest it (seed 5950)
  made.settleMs += 2 * Math.max(0, spread(made) - config.maxSkewMs)
  // a retention shorter than the run lets a node collect with every other member counted out (a partition longer than
  // it): the ops it collected exist nowhere else, so the others can only jump its floor, by the stuck rule (core's
  // STUCK_MS) once they see it, and their neighbours see it only then: one wait after another along the links (hostile
  // seed 50034: n7 collected m0's ops alone at 42 s, four hops from n4, which would have reached its floor at ~278 s of 255)
  if (config.retentionMs < faultsUntil + made.settleMs) made.settleMs += STUCK_HOPS * STUCK_MS
  return made
}

/** Hops of links a floor taken by the stuck rule may have to travel before the checks, each a `STUCK_MS` wait. */
const STUCK_HOPS = 4

/** How long before the checks nodes stop writing attestations (heartbeats included). */
const QUIET_MS = 10_000

/** The clocks' offsets: the nodes' own and those clock jumps set. */
function offsets (s: Scenario): number[] {
  return [...Object.values(s.clocks), ...s.actions.flatMap(a => a.kind === 'clock' ? [a.offset] : []), 0]
}

function spread (s: Scenario): number {
  return Math.max(...offsets(s)) - Math.min(...offsets(s))
}

/**
 * The quiet end of a run (see world.ts): long enough for the last
 * attestations to reach everyone, even where clocks differ by more than the
 * skew bound and an op waits until the receiver's clock catches up.
 */
export function quietMs (s: Scenario): number {
  return QUIET_MS + Math.max(0, spread(s) - s.config.maxSkewMs)
}

/** Splits `ids` into two or three non-empty groups. */
function split (rng: Rng, ids: string[]): string[][] {
  const shuffled = rng.shuffle(ids)
  const parts = Math.min(ids.length, rng.int(2, 3))
  const groups: string[][] = Array.from({ length: parts }, () => [])
  shuffled.forEach((id, i) => { (groups[i < parts ? i : rng.int(0, parts - 1)] as string[]).push(id) })
  return groups
}

/**
 * The links of a scenario with `links` set, as pairs "a\nb" (a < b): each of
 * `ids` picks that many others at random (murmurd dials that many members,
 * in random order) and is linked to those and to each that picked it. A draw
 * that leaves the nodes in parts that never meet is joined up by one link
 * between parts, in order: murmurd's dialer could settle so too, but at its
 * default of 8 in a group of a few dozen it is vanishingly rare, and here it
 * would only make runs fail that heal no partition. The same for `honest`
 * (the nodes but the hostile one), among themselves: a hostile member that
 * is their only bridge could keep them apart for good, and murmurd swaps a
 * dialled link now and then (`--peer-rotate`), so it cannot stay the only one.
 */
export function linksOf (ids: string[], links: number, rng: Rng, honest: string[] = ids): Set<string> {
  const pair = (a: string, b: string): string => a < b ? `${a}\n${b}` : `${b}\n${a}`
  const out = new Set<string>()
  for (const id of ids) for (const other of rng.shuffle(ids.filter(x => x !== id)).slice(0, links)) out.add(pair(id, other))
  /** Joins the parts of `among` that `out`'s links between them leave apart. */
  const join = (among: string[]): void => {
    const part = new Map(among.map(id => [id, id]))
    const root = (id: string): string => { while (part.get(id) !== id) id = part.get(id) as string; return id }
    for (const link of out) {
      const [a, b] = link.split('\n') as [string, string]
      if (part.has(a) && part.has(b)) part.set(root(a), root(b))
    }
    for (let i = 1; i < among.length; i++) {
      const [a, b] = [among[0] as string, among[i] as string]
      if (root(a) === root(b)) continue
      out.add(pair(a, b))
      part.set(root(a), root(b))
    }
  }
  join(ids)
  join(honest)
  return out
}
