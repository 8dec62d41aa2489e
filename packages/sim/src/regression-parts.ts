/**
 * How the regressions (`regressions.ts`) are built: from a seed as it was
 * when it found its hole, or by hand on a small base scenario.
 */
import { scenario as drawn, type Action, type HostileAct, type Scenario, type ScenarioOptions } from './scenario.js'

/** A seed's scenario as it was when the seed found its hole: every node linked to every other, no refreshes, every commit signed, no sybils (seeds drew none of these then). */
export const scenario = (seed: number, options?: ScenarioOptions): Scenario => {
  const made = unrefreshed({ ...drawn(seed, options), links: undefined, signLater: undefined, declines: undefined })
  return { ...made, actions: made.actions.filter(action => action.kind !== 'hostile' || (action.act !== 'sybils' && action.act !== 'equivocate-late')) }
}

/** A hostile seed's scenario as drawn before seeds drew late second versions (2026-12-07). */
export const beforeLate = (seed: number): Scenario => {
  const made = drawn(seed, { hostile: true })
  return { ...made, actions: made.actions.filter(action => action.kind !== 'hostile' || action.act !== 'equivocate-late') }
}

/** `made` without the keepalive refreshes seeds draw since 2026-12-04. */
export const unrefreshed = (made: Scenario): Scenario => ({ ...made, actions: made.actions.filter(action => action.kind !== 'write' || action.refresh !== true) })

export const base = (seed: number, nodes: number, extra: Partial<Scenario> = {}): Scenario => ({
  seed,
  nodes: Array.from({ length: nodes }, (_, i) => `n${i}`),
  closed: true,
  net: { latency: [2, 30], drop: 0, dup: 0 },
  config: { graceMs: 2_000, retentionMs: 3_600_000, attestIntervalMs: 1_000, antiEntropyMs: 1_000, maxSkewMs: 60_000, pendingBytes: 8 * 1024 * 1024 },
  clocks: {},
  actions: [],
  faultsUntil: 40_000,
  settleMs: 120_000,
  ...extra
})

export const writes = (node: string, from: number, count: number, every: number, key = (i: number) => `k${i % 6}`): Action[] =>
  Array.from({ length: count }, (_, i) => ({ at: from + i * every, kind: 'write' as const, node, key: key(i), value: i % 5 === 4 ? null : `${node}-${i}` }))

/** A hostile seed's scenario with only the actions at `times` (what shrinking it kept; its bulk writes name hundreds of keys). */
export const fromSeed = (seed: number, times: number[]): Scenario => {
  const made = scenario(seed, { hostile: true })
  const kept = new Set(times)
  return { ...made, actions: made.actions.filter(action => kept.has(action.at)) }
}

export const hostileActs = (act: HostileAct, times: number[]): Action[] => times.map(at => ({ at, kind: 'hostile' as const, act }))
