/**
 * Scenarios every run of the simulator's tests replays: the nine holes issue
 * #10 found (`nine-holes.ts`), then the failures random seeds found since,
 * each cut down to what it needs.
 */
import { LATE_VERSIONS } from './late-versions.js'
import { NINE_HOLES } from './nine-holes.js'
import { base, beforeLate, fromSeed, scenario, unrefreshed, writes } from './regression-parts.js'
import { scenario as drawn, type Action, type Scenario } from './scenario.js'

export const REGRESSIONS: Record<string, () => Scenario> = {
  ...NINE_HOLES,
  /**
   * Seed 282: a partition longer than the retention; one side deletes a key
   * and collects the tombstone, the other never saw the delete. Each side
   * then takes a snapshot from the other, and the side that deleted must not
   * take back the op it had held and seen deleted.
   */
  'partition-past-retention': () => base(110, 4, {
    config: { graceMs: 3_000, retentionMs: 10_000, attestIntervalMs: 1_000, antiEntropyMs: 1_000, maxSkewMs: 60_000, pendingBytes: 8 * 1024 * 1024 },
    actions: [
      { at: 1_000, kind: 'write', node: 'n1', key: 'k', value: 'v' },
      { at: 3_000, kind: 'partition', groups: [['n0', 'n1'], ['n2', 'n3']], healAfter: 25_000 },
      { at: 5_000, kind: 'write', node: 'n0', key: 'k', value: null },
      { at: 6_000, kind: 'write', node: 'n2', key: 'other', value: 'x' }
    ]
  }),
  /**
   * Seed 537: n2 is away past the short retention; it writes k7, and n1,
   * which never saw that write, deletes k7 a moment later. n0 collects the
   * delete without n2, then takes a snapshot from n2 that holds the older
   * write as a row. n0 cannot tell whether the delete it collected was of
   * that key: it writes the value again, so every replica agrees, where it
   * had kept the older write while the others kept the delete.
   */
  'snapshot-older-than-collected': () => ({
    ...base(537, 3, {
      closed: false,
      net: { latency: [1, 102], drop: 0.05, dup: 0.05 },
      config: { graceMs: 3_000, retentionMs: 39_000, attestIntervalMs: 3_000, antiEntropyMs: 5_000, maxSkewMs: 60_000, pendingBytes: 8 * 1024 * 1024 },
      clocks: { n0: -1905, n1: -743, n2: -1254 },
      faultsUntil: 32_000,
      settleMs: 200_000
    }),
    actions: [
      { at: 312, kind: 'crash', node: 'n2', downFor: 9_000 },
      { at: 1_343, kind: 'write', node: 'n0', key: 'k0', value: 'v6315' },
      { at: 2_664, kind: 'write', node: 'n0', key: 'k5', value: 'v2532' },
      { at: 3_236, kind: 'write', node: 'n1', key: 'u47', value: 'v2388' },
      { at: 4_318, kind: 'partition', groups: [['n2'], ['n1'], ['n0']], healAfter: 10_000 },
      { at: 14_148, kind: 'write', node: 'n0', key: 'k3', value: 'v3919' },
      { at: 14_346, kind: 'partition', groups: [['n2'], ['n0', 'n1']], healAfter: 21_000 },
      { at: 15_307, kind: 'write', node: 'n2', key: 'k2', value: 'v5107' },
      { at: 15_565, kind: 'write', node: 'n0', key: 'k6', value: 'v3549' },
      { at: 17_056, kind: 'write', node: 'n0', key: 'k3', value: 'v2747' },
      { at: 19_761, kind: 'write', node: 'n0', key: 'u238', value: 'v1112' },
      { at: 20_163, kind: 'write', node: 'n1', key: 'k0', value: 'v5542' },
      { at: 20_166, kind: 'write', node: 'n2', key: 'k7', value: 'v6620' },
      { at: 21_505, kind: 'write', node: 'n1', key: 'k7', value: null },
      { at: 24_521, kind: 'write', node: 'n1', key: 'k5', value: null },
      { at: 24_638, kind: 'crash', node: 'n1', downFor: 11_000 }
    ]
  }),
  /**
   * Seed 133 (with a hostile member): n0 is down while m0 replaces its
   * attestation with one claiming ops nobody holds. n1 counts m0's last
   * attestation it could check and collects two tombstones; n0, back up,
   * had never checked one of m0's, and kept the tombstones for good. It now
   * finds m0's newest earlier attestation that passes in its history.
   */
  'lie-while-down': () => base(133, 3, {
    hostile: 'm0',
    closed: false,
    net: { latency: [8, 70], drop: 0, dup: 0.05 },
    config: { graceMs: 7_000, retentionMs: 3_600_000, attestIntervalMs: 2_000, antiEntropyMs: 5_000, maxSkewMs: 60_000, pendingBytes: 8 * 1024 * 1024 },
    clocks: { n0: -1211, n1: 11_000, n2: -373, m0: 1550 },
    faultsUntil: 68_000,
    settleMs: 200_000,
    actions: [
      { at: 37_121, kind: 'crash', node: 'n2', downFor: 30_000 },
      { at: 44_899, kind: 'write', node: 'n1', key: 'k1', value: null },
      { at: 54_106, kind: 'write', node: 'n1', key: 'k6', value: null },
      { at: 57_472, kind: 'crash', node: 'n0', downFor: 29_000 },
      { at: 66_422, kind: 'hostile', act: 'lie-attest' }
    ]
  }),
  /**
   * Hostile seed 545, cut to 76 of its 117 actions (taken from the seed
   * by time): after the partition, a node took a snapshot that showed a
   * delete of k3 collected and removed its tombstone, but did not count it as
   * collected (its horizon stayed put). An older k3 still in its peers'
   * history then came in an ordinary pull with no witness (the puller's
   * horizon asked for none, and the delete that beat it was gone): it became
   * the row on that node alone. A tombstone a snapshot removes now raises the
   * horizon, as one collected here does, so the older value is written again
   * the same on every node.
   */
  'snapshot-removes-without-horizon': () => fromSeed(545, [
      87, 141, 166, 291, 339, 1_135, 1_280, 1_399, 2_087, 2_244, 2_278, 2_574, 3_121, 3_676, 3_799, 4_455, 4_601,
      4_854, 5_128, 5_738, 6_056, 6_454, 6_467, 7_858, 8_259, 8_685, 8_692, 8_830, 8_913, 9_226, 10_190, 10_528,
      10_569, 10_573, 11_049, 11_152, 11_856, 12_353, 12_718, 12_826, 12_840, 12_875, 13_114, 13_215, 13_291, 13_705,
      13_805, 15_340, 15_930, 16_086, 16_199, 16_517, 16_595, 17_188, 18_030, 18_409, 18_572, 18_664, 19_734, 20_106,
      20_369, 21_390, 21_538, 21_869, 23_078, 24_195, 24_776, 24_888, 25_415, 26_585, 26_757, 27_171, 27_836, 32_546,
      33_013, 34_685
  ]),
  /**
   * Hostile seed 584 first (rebuilt by hand once snapshots came in fewer
   * frames): n2, back behind what was collected, had a snapshot pull from m0
   * stall; the next pull, from n0, took a snapshot too, and both staged rows
   * in the one `snapshot_stage`: n2 jumped past rows it never got. Now the
   * newer pull takes the stage over and the older ends unsettled.
   */
  'two-snapshots-at-once': () => base(4, 3, {
    hostile: 'm0',
    config: { ...base(0, 0).config, retentionMs: 15_000 },
    actions: [
      { at: 500, kind: 'crash', node: 'n2', downFor: 25_000 },
      { at: 1_000, kind: 'bulk', node: 'n0', keys: Array.from({ length: 600 }, (_, i) => `b${(i * 7919) % 1000}`), value: 'x'.repeat(300) },
      { at: 2_000, kind: 'bulk', node: 'n1', keys: Array.from({ length: 400 }, (_, i) => `b${(i * 104729) % 1000}`), value: 'y'.repeat(200) },
      ...writes('n0', 3_000, 60, 300),
      // n2 comes back reaching m0 alone, whose pull trickles
      { at: 20_000, kind: 'cut', pairs: [['n2', 'n0'], ['n2', 'n1']], for: 40_000 }
    ]
  }),
  /**
   * Seed 1446: m0 served n3 a snapshot of nothing behind its own attestation
   * claiming every origin up to 2^53 − 1; n3 counted origins it had never
   * heard of as silent and jumped them. Such an origin is now unvouched.
   */
  'unvouched-origin-jump': () => scenario(1446),
  /**
   * Seed 1526 (3 nodes and a hostile member, whole): during a partition
   * {n0, m0} | n1 | n2, n0 had heard of no other member and collected m0:1–3
   * with m0 alone. n1 and n2 held m0 only to 1; no member's attestation
   * reached n0's floor for m0 (they could never get m0:2–3), so no snapshot
   * jumped it, and m0's later ops waited on them forever. A node stuck behind
   * such a floor now takes it after `STUCK_MS`, as far as m0 itself vouches.
   * Seed 9930 (2 links a node): n4 and n6, cut off from the start, each did
   * so alone; n0–n2 held none of their ops, and the rule skipped origins a
   * node holds none of. It now counts them too.
   */
  'premature-floor': () => scenario(1526),
  'premature-floor-unheld': () => scenario(9930),
  /**
   * Hostile seed 1065 and seed 2334: a node wrote again an old row older than
   * its key's past versions; its rewrite said it had seen that row only, so
   * conflicts differed. A write now says it saw the newer of the row and the
   * newest past version (the sim README has the whole story).
   */
  'old-row-under-newer-history': () => scenario(1065, { hostile: true, before31: true }),
  'old-row-under-newer-history-2': () => scenario(2334, { before31: true }),
  /**
   * The simulator's bookkeeping (hostile seed 1813; rebuilt once snapshots
   * came in fewer frames): n2, back past the retention, took a snapshot cut
   * before its last frame; a history counted as incomplete only once such a
   * pull ended. Now the frame that begins a snapshot marks it.
   */
  'snapshot-cut-short': () => base(1813, 3, {
    config: { ...base(0, 0).config, retentionMs: 15_000 },
    actions: [
      { at: 0, kind: 'cut', pairs: [['n1', 'n2']] },
      { at: 500, kind: 'crash', node: 'n2', downFor: 25_000 },
      ...Array.from({ length: 120 }, (_, i): Action => ({ at: 1_000 + i * 150, kind: 'write', node: i % 3 === 2 ? 'n1' : 'n0', key: `k${i % 12}`, value: i % 7 === 6 ? null : `v${i}` })),
      { at: 25_615, kind: 'partition', groups: [['n2'], ['n0', 'n1']], healAfter: 200 }
    ]
  }),
  /**
   * Hostile seed 4163: the hostile member attests truthfully twice, then
   * lies (claims 100 ops past what it holds of every origin). n1 got its
   * second attestation in the same delivery as the lie, so the newest it had
   * checked was the first, which holds nothing; n0 had checked the second.
   * Each counted the liar by the last attestation that had passed on it:
   * rows differed for good. A member's stand-in is now the newest of its
   * earlier attestations that passes, found in history too (`fallback`).
   */
  'stand-in-by-arrival': () => scenario(4163, { hostile: true }),
  /**
   * Hostile seed 4802: m0 signed one seq twice; n0 asked n1 for m0's ops
   * again by lowering its vector below n1's floor, and n1 sent the whole map
   * as a snapshot; the recheck counted as done at the hello. A recheck is
   * now its own field of the hello (`recheck`), answered from the server's
   * floor up, and done only once the server says done.
   */
  'recheck-without-snapshot': () => scenario(4802, { hostile: true }),
  /** Seed 5950, the simulator's: clocks 94 s past the skew bound left no time to attest a late second version. Settling grows with the spread. */
  'late-second-version': () => scenario(5950),
  /** Hostile seed 6612: m0's flood, 24 min ahead, held back its later ops until clocks reached it (by design); it now waits 30 s past the bound. */
  'future-second-version': () => scenario(6612, { hostile: true }),
  /** Seed 8161 (3 links a node): m0's last ops were on m0 alone, and n0's one pull from it trickled held ops for 190 s. A pull now ends as stale after `STALE_MS` of them too. */
  'trickled-stale': () => unrefreshed(drawn(8161)),
  /** Hostile seed 7416, cut to 2 actions: n1 came back while its disk was full; it now starts again each second, as murmurd under a supervisor. */
  'start-on-full-disk': () => fromSeed(7416, [387, 10_544]),
  /** Seed 9545: n5, unknown to the others until it wrote, caught up from a snapshot and never attested again; collection waited on it. */
  'snapshot-attests': () => scenario(9545),
  /** Hostile seed 9003, the simulator's: m0's writes while cut off, served only by a trickle, counted as existing though no honest node could get them. */
  'withheld-own-writes': () => scenario(9003, { hostile: true }),
  /** Hostile seed 24013, the simulator's: m0's second version, taken by n3 alone, counted as existing though a crash before its fsync lost it. */
  'taken-then-lost': () => scenario(24013, { hostile: true }),
  /**
   * 959b74b, built by hand: m0 signs two versions of a seq while n1 reaches only m0, n0 deletes every key, and n1,
   * counting n0 and n2 (whose attestations disagree on m0's ops) for the other origins at once, collected those
   * deletes, then took the other version when the links came back and wrote it again over n0's delete. Fails on
   * d59452c; a disagreeing member now counts for the others only once asked again.
   */
  'disagreement-asked-first': () => base(1, 3, {
    hostile: 'm0',
    actions: [
      ...['k0', 'k1', 'k2', 'k3', 'k4', 'k5'].map((key, i): Action => ({ at: 500 + i * 50, kind: 'write', node: 'n2', key, value: `v${i}` })),
      { at: 1_900, kind: 'cut', pairs: [['n0', 'n1'], ['n2', 'n1']], for: 40_000 },
      { at: 2_000, kind: 'hostile', act: 'equivocate' },
      ...['k0', 'k1', 'k2', 'k3', 'k4', 'k5'].map((key, i): Action => ({ at: 3_000 + i * 50, kind: 'write', node: 'n0', key, value: null }))
    ],
    faultsUntil: 45_000
  }),
  /** Hostile seed 9848: m0's second version of a seq, withheld, reaches n3 after deletes stamped after it were collected; written again, it brings nothing deleted back. */
  'second-version-after-collection': () => scenario(9848, { hostile: true, before31: true }),
  /** Hostile seed 14630: n1 held only the later-stamped of m0's two versions of m0:11, refused m0:12 for order and stayed at m0:11 for good; an order refusal now asks for the held seq again. */
  'order-after-unseen-version': () => scenario(14630, { hostile: true }),
  /** Hostile seed 39560: m0's withheld second version of k0, older than n3's collected delete, written again everywhere (allowed; see the sim README). */
  'withheld-version-over-delete': () => beforeLate(39560),
  /** Hostile seed 50034, the simulator's settle: n7 collected m0:7–8 alone; the others took its floor by the stuck rule, a hop at a time, four to n4 (see the README). */
  'stuck-floor-hops': () => beforeLate(50034),
  /**
   * Hostile seed 45542: m0 signed its seq 9 twice and attested on, each attestation disagreeing with n0's and n2's
   * ops of m0 from seq 9 up and rising with m0's own ops; each was asked about again by a pull from m0 (a trickle),
   * and n0 and n2 ended the run waiting on one, having collected up to different deletes. One that disagrees no more
   * than the one asked about now counts as asked about (core's `Stability.unchanged`).
   */
  'equivocator-attests-on': () => beforeLate(45542),
  /**
   * Hostile seed 47132: m0 signed its seq 11 twice and went silent past the retention; n0, holding one version, collected
   * past it with n1's agreement; m0 showed n1 the other version at 167 s, which lost on arrival (no row changed, so not
   * recorded as taken) and, claiming to have seen nothing, made the versions of k1 it beat conflicts on n1 only. The
   * history check now knows a hostile op by what honest replicas hold too, and compares no replica that collected past
   * one it lacks (the member's documented power).
   */
  'late-version-in-history': () => beforeLate(47132),
  /**
   * Hostile seed 48908 (whole): m0's flood of future ops signed m0:106 and
   * m0:107 long before its own writes reached those seqs; when they did, m0
   * held two versions of each. n0 took the future m0:106 alone, and its floor
   * passed it; n1 took the other version of m0:106, stamped earlier, and then
   * m0:107, stamped between the two. n0 dropped that version as known (at its
   * floor) and refused m0:107 for order each time it came: it stayed at
   * m0:106 for good, and the keys m0 deleted from then on differed. A version
   * of the held seq at the floor that the node does not hold is now taken as
   * one above the floor is, and an order refusal there asks for it again.
   */
  'version-at-the-floor': () => beforeLate(48908),
  ...LATE_VERSIONS,
  /**
   * The 100,000-key bench: a sync frame of ops from batches it carries only
   * part of holds the rest of each batch's digests; counted by keys and values
   * alone it grew to several times its budget, and the puller refused it on
   * every pull. n2 is down while n0 and n1 write hundreds of keys in one
   * request each, then pulls them all.
   */
  'frames-over-budget': () => base(111, 3, {
    actions: [
      { at: 500, kind: 'crash', node: 'n2', downFor: 8_000 },
      { at: 1_000, kind: 'bulk', node: 'n0', keys: Array.from({ length: 600 }, (_, i) => `b${(i * 7919) % 1000}`), value: 'x'.repeat(300) },
      { at: 2_000, kind: 'bulk', node: 'n1', keys: Array.from({ length: 400 }, (_, i) => `b${(i * 104729) % 1000}`), value: 'y'.repeat(200) }
    ]
  }),
  /** Hostile seed 16491 (2 links a node): m0, which trickles syncs, was the only bridge between n0–n2 and n1–n3; honest nodes are now linked among themselves too (`linksOf`). */
  'hostile-bridge': () => unrefreshed(beforeLate(16491)),
  /** Signing as ops leave (`signLater`): single puts 3 ms apart share batches, and a crash leaves some acknowledged but unsigned; signed at the restart, rows end identical. */
  'sign-later-crash': () => base(112, 3, {
    signLater: ['n0', 'n1', 'n2'],
    actions: [...writes('n0', 1_000, 200, 3), { at: 1_301, kind: 'crash', node: 'n0', downFor: 2_000 } as Action, ...writes('n1', 1_100, 50, 7)].sort((a, b) => a.at - b.at)
  })
}
