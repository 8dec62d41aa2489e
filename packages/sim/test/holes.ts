/**
 * What each regression scenario (src/regressions.ts) must show it hit, and
 * the test that runs one: it passes every check and hits its hole. sim.spec
 * runs them all but the longest, which holes-longest.spec runs: a file of
 * their own, so the test runner runs them beside the rest (in one file, the
 * scenarios run one after another, last of the first `npm test` run).
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { REGRESSIONS, run, type RunResult } from '../src/index.js'
import { passes } from './passes.js'

/** The scenarios that take longest (stuck-floor-hops and future-second-version about a quarter of a minute each, alone on 2 cores; stuck-floor-hops took half a minute before sync 3.2.0's rows: false). */
export const LONGEST = ['stuck-floor-hops', 'future-second-version']

const hits: Record<string, (r: RunResult) => boolean> = {
  'claimed-vector': r => r.counts.hostileActs === 3,
  'chain-gc': r => r.counts.tombstonesCollected > 0 && r.counts.partitions === 1,
  'replay-after-gc': r => r.counts.tombstonesCollected > 0 && r.counts.hostileActs === 4,
  'clock-refused': r => r.counts.refused > 0 && r.counts.clockJumps === 2,
  'failed-apply': r => r.counts.diskFull === 1,
  'held-budget': r => r.counts.maxWaitingBytes > 8 * 1024,
  'power-loss': r => r.counts.crashes === 1,
  equivocation: r => r.counts.equivocations > 0,
  trickle: r => r.counts.crashes === 1,
  'partition-past-retention': r => r.counts.snapshots >= 2 && r.counts.tombstonesCollected > 0,
  'frames-over-budget': r => r.counts.writes === 1_000 && r.counts.crashes === 1,
  'snapshot-older-than-collected': r => r.counts.snapshots >= 2 && r.counts.reissued > 0 && r.counts.tombstonesCollected > 0,
  'lie-while-down': r => r.counts.hostileActs === 1 && r.counts.crashes === 2 && r.counts.tombstonesCollected > 0,
  'snapshot-removes-without-horizon': r => r.counts.snapshots > 0 && r.counts.reissued > 0 && r.counts.tombstonesCollected > 0,
  'two-snapshots-at-once': r => r.counts.snapshotsOvertaken > 0,
  'premature-floor': r => r.counts.hostileActs > 0 && r.counts.snapshots > 0 && r.counts.partitions === 1,
  'premature-floor-unheld': r => r.counts.snapshots > 0 && r.counts.partitions >= 1 && r.counts.tombstonesCollected > 0,
  'unvouched-origin-jump': r => r.counts.hostileActs > 0 && r.counts.snapshots > 0,
  // an old op written again after its key's delete was collected, with a hostile member's ops in the key's history
  'old-row-under-newer-history': r => r.counts.reissued > 0 && r.counts.tombstonesCollected > 0 && r.counts.hostileActs > 0,
  'old-row-under-newer-history-2': r => r.counts.reissued > 0 && r.counts.tombstonesCollected > 0 && r.counts.hostileActs > 0,
  'snapshot-cut-short': r => r.counts.snapshotsCut > 0 && r.counts.snapshots === 0,
  'stand-in-by-arrival': r => r.counts.hostileActs > 0 && r.counts.crashes > 0 && r.counts.tombstonesCollected > 0,
  'recheck-without-snapshot': r => r.counts.rechecks > 0 && r.counts.equivocations > 0,
  'late-second-version': r => r.counts.equivocations > 0 && r.counts.clockJumps === 2 && r.counts.tombstonesCollected > 0,
  'future-second-version': r => r.counts.equivocations > 100 && r.counts.hostileActs > 0 && r.counts.tombstonesCollected > 0,
  'trickled-stale': r => r.counts.staleEnds > 0 && r.counts.hostileActs > 0,
  'start-on-full-disk': r => r.counts.startsFailed > 0 && r.counts.diskFull === 1,
  'snapshot-attests': r => r.counts.snapshots > 0 && r.counts.crashes > 0 && r.counts.tombstonesCollected > 0,
  'withheld-own-writes': r => r.counts.hostileActs > 0 && r.counts.partitions > 0 && r.counts.snapshots > 0,
  'taken-then-lost': r => r.counts.takenThenLost > 0,
  'disagreement-asked-first': r => r.counts.equivocations > 0 && r.counts.rechecks > 0 && r.counts.tombstonesCollected > 0,
  'second-version-after-collection': r => r.counts.equivocations > 0 && r.counts.reissued > 0 && r.counts.reissuedOverDeletes === 0,
  'hostile-bridge': r => r.counts.hostileActs > 0 && r.counts.crashes === 3 && r.counts.diskFull === 1,
  'sign-later-crash': r => r.counts.crashes === 1 && r.counts.signedAtStart > 0 && r.counts.sharedProofs > 0 && r.counts.rodeProofs > 0,
  // a second version kept, and an op refused for order (m0:12 on n1)
  'order-after-unseen-version': r => r.counts.equivocations > 0 && r.counts.refusedForOrder > 0,
  // the floors travelled by snapshots
  'stuck-floor-hops': r => r.counts.snapshots > 0 && r.counts.crashes > 0,
  // m0's later attestations, each disagreeing as the one asked about did, and deletes collected alike everywhere
  'equivocator-attests-on': r => r.counts.equivocations > 0 && r.counts.rechecks > 0 && r.counts.tombstonesCollected > 0,
  // m0's withheld second version written again over an honest delete of its key, and no honest value so
  'withheld-version-over-delete': r => r.counts.equivocations > 0 && r.counts.hostileOverDeletes > 0 && r.counts.reissuedOverDeletes === 0,
  // m0's second version shown late to n1 (both kept there), after collection had passed it on n0
  'late-version-in-history': r => r.counts.equivocations >= 2 && r.counts.tombstonesCollected > 0 && r.counts.clockJumps === 1,
  // m0's second versions (of its future flood), m0:107 refused for order on n0 before the other version of m0:106 came, deletes collected
  'version-at-the-floor': r => r.counts.equivocations > 0 && r.counts.refusedForOrder > 0 && r.counts.tombstonesCollected > 0 && r.counts.hostileActs > 0,
  // m0's second version of seq 1 taken by the nodes below their floors, its key written again by them, deletes collected
  'late-version-below-floor': r => r.counts.equivocations > 0 && r.counts.reissued > 0 && r.counts.tombstonesCollected > 0,
  // n3's second version of m0:5, m0's syncs trickled, deletes collected
  'lacks-only-held-version': r => r.counts.equivocations > 0 && r.counts.hostileActs > 0 && r.counts.tombstonesCollected > 0,
  // every node but n6 took m0's late second version, n6 asked the honest ones again, deletes collected
  'asked-alike': r => r.counts.equivocations > 0 && r.counts.rechecks > 0 && r.counts.tombstonesCollected > 0,
  // m0's late versions of two seqs, taken by every honest node and not by m0, deletes collected
  'lacks-several-held-versions': r => r.counts.equivocations > 1 && r.counts.tombstonesCollected > 0,
  // writes again handed out during a full disk
  'rewrites-on-full-disk': r => r.counts.diskFull > 0 && r.counts.reissued > 0,
  // m0's late second versions, rechecks asked
  'recheck-while-waiting': r => r.counts.equivocations > 0 && r.counts.rechecks > 0
}

/** One test for each scenario named: it converges, loses nothing acknowledged, and hits its hole. */
export function itRuns (names: string[]): void {
  for (const name of names) {
    const make = REGRESSIONS[name] ?? assert.fail(`no regression scenario ${name}`)
    it(`${name}: the replicas converge and nothing acknowledged is lost`, () => {
      const result = run(make())
      passes(result)
      assert.ok(hits[name]?.(result), `the scenario hit its hole: ${JSON.stringify(result.counts)}`)
    })
  }
}
