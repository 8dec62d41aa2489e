/**
 * The regressions the hostile act `equivocate-late` found (a second version
 * of one of m0's seqs, shown while floors pass that seq), and those found
 * while fixing them: whole seeds as drawn on 2026-12-07. Part of
 * `REGRESSIONS`.
 */
import { scenario as drawn, type Scenario } from './scenario.js'

export const LATE_VERSIONS: Record<string, () => Scenario> = {
  /**
   * Hostile seed 70314: m0 signed a second version of its seq 1 (k0, stamped
   * then, so it won its key) long after n2 had collected past that seq, and
   * showed it to half the nodes. n2 could not tell it from a replay and never
   * took it; the nodes whose floors were below it took it: k0 differed for
   * good. A node that finds a seq signed twice now writes again the keys its
   * versions hold, and n2 takes those writes.
   */
  'late-version-below-floor': () => drawn(70314, { hostile: true }),
  /**
   * Hostile seed 70229: n3 alone took m0's late second version of m0:5 (its
   * floor was below it), so every other member's attestation disagreed with
   * its ops of m0, m0's own among them; asking m0 again never ended (it
   * trickles, and sent only ops n3 held, so each pull ended as stale), and
   * n3 alone collected nothing while the others did: their tombstones
   * differed. A member whose mark differs by exactly one version this node
   * holds of a seq signed twice lacks it, and holds nothing this node lacks:
   * it now counts as asked about without asking.
   */
  'lacks-only-held-version': () => drawn(70229, { hostile: true }),
  /**
   * Hostile seed 52779: the other way round. Every node but n6 took m0's
   * late second version of m0:1 (n6's floor had passed it), so every other
   * member's attestation disagreed with n6's ops of m0. n6 asked the honest
   * ones at once, and then m0, which trickles: held back alone, its
   * tombstones differed from the others'. A member whose mark differs
   * exactly as one asked about did (since this node's accumulators last
   * changed) now counts as asked about without a pull.
   */
  'asked-alike': () => drawn(52779, { hostile: true }),
  /**
   * Hostile seed 53046: m0 never took two of the late versions it showed
   * (of its seqs 1 and 4), which every honest node took; its attestation
   * differed from theirs by the XOR of both, which no one version held
   * matches, and the nodes its trickled syncs never finished asking were
   * held back. A difference that is the XOR of some versions held of seqs
   * signed twice now counts as asked about (`xorOfSome`).
   */
  'lacks-several-held-versions': () => drawn(53046, { hostile: true }),
  /**
   * Hostile seed 53939: a node handed out its writes again while its disk was
   * full; dropping those no longer due from meta failed, and the exception
   * took the writes still due with it (and the simulated node). Now the
   * names go from meta at the next call.
   */
  'rewrites-on-full-disk': () => drawn(53939, { hostile: true }),
  /**
   * Seed 67093 (with a hostile member): n1 asked n2 about its attestation,
   * which named a late second version of m0:1, while n1 had that version
   * waiting (its hello skipped it, so n2 did not send it); counted as asked
   * about, and every later attestation disagreeing alike with it, the version
   * was never asked for again once the wait lost it, and n1's history of k4
   * differed for good. A recheck now counts only once nothing of a seq the
   * node holds waits.
   */
  'recheck-while-waiting': () => drawn(67093),
}
