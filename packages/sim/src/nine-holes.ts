/**
 * One scenario for each of the nine holes issue #10 found, built by hand so
 * it hits its hole on every run (a random seed only might). Each fails on the
 * replication core as it stood at 728ec9a, and must pass now. The first of
 * the regressions (`regressions.ts`).
 */
import { base, hostileActs, writes } from './regression-parts.js'
import type { Action, Scenario } from './scenario.js'

export const NINE_HOLES: Record<string, () => Scenario> = {
  /** 1. A peer's claimed vector (2^53 − 1 for everyone) is never taken as held. */
  'claimed-vector': () => base(101, 3, {
    hostile: 'm0',
    actions: [...hostileActs('lie-vector', [500, 5_000, 15_000]), ...writes('n0', 1_000, 20, 1_000), ...writes('n1', 2_000, 20, 1_500)].sort((a, b) => a.at - b.at)
  }),
  /** 2. A chain n1 – n0 – n2: n2 writes k while away, n1 deletes it later and must not collect the tombstone until n2 has seen it. */
  'chain-gc': () => base(102, 3, {
    actions: [
      { at: 0, kind: 'cut', pairs: [['n1', 'n2']] },
      { at: 1_000, kind: 'write', node: 'n0', key: 'k', value: 'original' },
      { at: 3_000, kind: 'partition', groups: [['n2'], ['n0', 'n1']], healAfter: 30_000 },
      { at: 5_000, kind: 'write', node: 'n2', key: 'k', value: 'w-offline' },
      { at: 8_000, kind: 'write', node: 'n1', key: 'k', value: null }
    ]
  }),
  /** 3. A genuine op replayed after its delete was collected brings nothing back. */
  'replay-after-gc': () => base(103, 3, {
    hostile: 'm0',
    actions: [
      { at: 500, kind: 'write', node: 'n1', key: 'secret', value: 'launch-codes' },
      { at: 3_000, kind: 'write', node: 'n1', key: 'secret', value: null },
      ...hostileActs('replay', [8_000, 12_000, 20_000, 30_000])
    ]
  }),
  /** 4. Ops refused for the clock are not counted: once the clocks agree, they arrive. */
  'clock-refused': () => base(104, 3, {
    clocks: { n1: 2 * 3_600_000 },
    actions: [...writes('n1', 1_000, 5, 1_000), { at: 20_000, kind: 'clock', node: 'n0', offset: 2 * 3_600_000 }, { at: 20_000, kind: 'clock', node: 'n2', offset: 2 * 3_600_000 }]
  }),
  /** 5. A commit that failed (a full disk) counts nothing: a later sync brings the ops again. */
  'failed-apply': () => base(105, 3, {
    actions: [{ at: 1_000, kind: 'disk-full', node: 'n2', for: 8_000 } as Action, ...writes('n0', 1_500, 30, 200)].sort((a, b) => a.at - b.at)
  }),
  /** 6. Far-future and gap-waiting ops stay within a byte budget, and are not downloaded again and again. */
  'held-budget': () => base(106, 3, {
    hostile: 'm0',
    config: { graceMs: 2_000, retentionMs: 3_600_000, attestIntervalMs: 1_000, antiEntropyMs: 1_000, maxSkewMs: 60_000, pendingBytes: 16 * 1024 },
    actions: [...hostileActs('flood-future', [1_000, 2_000, 3_000, 4_000, 5_000, 6_000]), ...writes('n0', 1_500, 20, 500)].sort((a, b) => a.at - b.at)
  }),
  /** 7. No peer learns a seq its writer could lose: a crash right after writes, then more writes. */
  'power-loss': () => base(107, 3, {
    actions: [
      ...writes('n0', 1_000, 10, 3),
      { at: 1_020, kind: 'crash', node: 'n0', downFor: 3_000 },
      ...writes('n0', 4_500, 10, 100)
    ]
  }),
  /** 8. An origin signing two ops with one seq for different peers: both kept everywhere, replicas converge. */
  'equivocation': () => base(108, 4, {
    hostile: 'm0',
    actions: [...hostileActs('equivocate', [2_000, 6_000, 15_000]), ...writes('n0', 1_000, 10, 2_000)].sort((a, b) => a.at - b.at)
  }),
  /** 9. A peer that trickles its syncs does not hold back catch-up from honest ones: the run settles in 15 s. */
  'trickle': () => base(109, 3, {
    hostile: 'm0',
    actions: [{ at: 500, kind: 'crash', node: 'n2', downFor: 10_000 } as Action, ...writes('n0', 1_000, 40, 100)].sort((a, b) => a.at - b.at),
    faultsUntil: 12_000,
    settleMs: 15_000
  })
}
