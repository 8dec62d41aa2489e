/**
 * One run: the nodes, the network, the scenario's timeline of writes and
 * faults, then a quiet period in which everything heals, then the checks.
 */
import { rmSync } from 'node:fs'
import { opDigest } from '@murmur/core'
import { HostileNode } from './hostile.js'
import { check, checkVisible } from './invariants.js'
import { SimKeys } from './keys.js'
import { Network } from './network.js'
import { SimNode, type NodeDeps } from './node.js'
import { Recorder } from './record.js'
import { Rng } from './rng.js'
import { runDir } from './run-dir.js'
import { Scheduler } from './scheduler.js'
import { linksOf, quietMs, type Action, type Scenario } from './scenario.js'

export interface RunResult {
  seed: number
  failures: string[]
  trace: string[]
  counts: Recorder['counts'] & Network['stats'] & { events: number }
}

/** Most events one run may take: a run that would go on forever fails instead. */
const MAX_EVENTS = 3_000_000

export function run (scenario: Scenario): RunResult {
  const sched = new Scheduler()
  const rng = new Rng(scenario.seed)
  const record = new Recorder()
  record.now = () => sched.now
  sched.onError = err => { record.fail(`exception: ${(err as Error).stack?.split('\n').slice(0, 4).join(' | ') ?? String(err)}`) }
  const net = new Network(sched, rng.fork('network'), scenario.net, (where, err) => {
    record.fail(`exception in ${where}: ${(err as Error).stack?.split('\n').slice(0, 3).join(' | ') ?? String(err)}`)
  })
  const dir = runDir()
  const deps: NodeDeps = { dir, sched, rng: rng.fork('nodes'), net, keys: new SimKeys(scenario.seed), record, scenario }
  const nodes = new Map(scenario.nodes.map(id => [id, new SimNode(id, deps)]))
  const hostile = scenario.hostile !== undefined ? new HostileNode(scenario.hostile, deps) : undefined
  for (const node of nodes.values()) net.add(node)
  if (hostile !== undefined) net.add(hostile)
  if (scenario.links !== undefined) {
    net.topology = linksOf(net.ids(), scenario.links, rng.fork('links'), scenario.nodes)
    record.log(`links: ${[...net.topology].map(link => link.replace('\n', '–')).join(' ')}`)
  }
  net.faultsUntil = scenario.faultsUntil
  const guarded = (what: string, fn: () => void) => (): void => {
    try {
      fn()
    } catch (err) {
      record.fail(`exception in ${what}: ${(err as Error).stack?.split('\n').slice(0, 4).join(' | ') ?? String(err)}`)
    }
  }
  sched.at(0, guarded('start', () => {
    for (const node of nodes.values()) node.start()
    hostile?.start()
  }))
  for (const action of scenario.actions) sched.at(action.at, guarded(describe(action), () => { apply(action) }))
  sched.at(scenario.faultsUntil, guarded('heal', () => {
    net.partition(undefined)
    for (const node of nodes.values()) {
      node.disk.fullUntil = -Infinity
      if (!node.up) node.start()
    }
    if (hostile !== undefined && !hostile.up) hostile.start()
    record.log('faults stop: the network heals and every node is up')
  }))

  /** Starts a crashed node again; on a full disk, again each second until it starts or the faults end (then the heal starts it). */
  function restart (node: SimNode): () => void {
    const again = guarded(`restart ${node.id}`, () => {
      if (node.up || sched.now >= scenario.faultsUntil || node.start()) return
      record.counts.startsFailed++
      record.log(`${node.id} cannot start: its disk is full; again in 1 s`)
      sched.after(1_000, again)
    })
    return again
  }

  function apply (action: Action): void {
    record.log(describe(action))
    const node = 'node' in action ? nodes.get(action.node) : undefined
    switch (action.kind) {
      case 'write':
        record.counts.writes++
        if (action.value === null) record.counts.deletes++
        if (action.ttlMs !== undefined) {
          record.counts.expiring++
          // a little after it expires (clocks differ): no up replica that holds it may show it past its expiry
          sched.after(action.ttlMs + 1_000, guarded('expiry check', () => { for (const n of nodes.values()) if (n.up) checkVisible(n, record) }))
        }
        node?.write([{ key: action.key, value: action.value, ...(action.ttlMs !== undefined ? { ttlMs: action.ttlMs } : {}), ...(action.refresh === true ? { refresh: true as const } : {}) }])
        return
      case 'bulk':
        record.counts.writes += action.keys.length
        node?.write(action.keys.map(key => ({ key, value: action.value })))
        return
      case 'crash':
        if (node === undefined || !node.up) return
        record.counts.crashes++
        node.crash()
        sched.after(action.downFor, restart(node))
        return
      case 'partition':
        record.counts.partitions++
        net.partition(action.groups)
        sched.after(action.healAfter, guarded('heal partition', () => { if (sched.now < scenario.faultsUntil) net.partition(undefined) }))
        return
      case 'cut': {
        net.cut(action.pairs, true)
        const restore = action.for
        if (restore !== undefined) sched.after(restore, guarded('restore links', () => { net.cut(action.pairs, false) }))
        return
      }
      case 'clock':
        if (node === undefined) return
        record.counts.clockJumps++
        node.clockOffset = action.offset
        return
      case 'disk-full':
        if (node === undefined) return
        record.counts.diskFull++
        node.disk.fullUntil = sched.now + action.for
        return
      case 'hostile':
        hostile?.act(action.act)
        return
      case 'tamper':
        if (node !== undefined) {
          const tampered = { key: action.key, value: Buffer.from('tampered'), wall: 0, logical: 0, origin: action.node, seq: 1 }
          node.replica.store.put(tampered, opDigest(tampered))
          node.historyIncomplete = true
        }
        return
      case 'tamper-history':
        if (node !== undefined) {
          const past = { key: action.key, value: Buffer.from('tampered'), wall: 1, logical: 0, origin: action.origin, seq: 1_000_000 }
          node.replica.store.transaction(() => node.replica.store.past.keep(past, opDigest(past)))
        }
    }
  }

  // the last seconds are quiet: no new attestations, so the last ones can reach everyone before the checks
  const until = scenario.faultsUntil + scenario.settleMs
  const quiet = quietMs(scenario)
  sched.at(Math.max(scenario.faultsUntil, until - quiet), () => { for (const node of [...nodes.values(), hostile]) node?.quiet() })
  if (sched.run(until, MAX_EVENTS)) record.fail(`still busy after ${MAX_EVENTS} events at ${(sched.now / 1000).toFixed(1)} s: something never settles`)
  if (record.failures.length === 0) {
    const honest = [...nodes.values()]
    guarded('checks', () => { check(honest, record, scenario) })()
  }
  // every node's database goes with the run
  for (const node of [...nodes.values(), hostile]) node?.close()
  rmSync(dir, { recursive: true, force: true })
  return { seed: scenario.seed, failures: record.failures, trace: record.lines(), counts: { ...record.counts, ...net.stats, events: sched.events } }
}

export function describe (action: Action): string {
  switch (action.kind) {
    case 'write': return `${action.node} ${action.value === null ? `del ${action.key}` : `put ${action.key}=${action.value}${action.ttlMs !== undefined ? ` ttl ${action.ttlMs / 1000} s` : ''}${action.refresh === true ? ' refresh' : ''}`}`
    case 'bulk': return `${action.node} puts ${action.keys.length} keys in one request (${action.keys.slice(0, 3).join(', ')}, …)=${action.value}`
    case 'crash': return `${action.node} crashes for ${action.downFor / 1000} s`
    case 'partition': return `partition ${action.groups.map(g => g.join(',')).join(' | ')} for ${action.healAfter / 1000} s`
    case 'cut': return `links down: ${action.pairs.map(p => p.join('–')).join(', ')}${action.for !== undefined ? ` for ${action.for / 1000} s` : ''}`
    case 'clock': return `${action.node} clock jumps to ${action.offset / 1000} s`
    case 'disk-full': return `${action.node} disk full for ${action.for / 1000} s`
    case 'hostile': return `hostile: ${action.act}`
    case 'tamper': return `${action.node}'s ${action.key} changed behind its back`
    case 'tamper-history': return `${action.node} keeps a past version of ${action.key} by ${action.origin} behind its back`
  }
}
