/**
 * The gate in front of a snapshot: which origins a node may jump, and whether
 * it takes the snapshot at all (see `snapshotReason`). A server may offer a
 * snapshot to anyone; this node decides from its own records and from
 * signed attestations only.
 */
import { decodeAttestation, type Attestation } from '../attestation.js'
import { noteSilent, type ReplicaState } from './state.js'
import type { Mark, Op } from '../types.js'
/**
 * Whether to take a snapshot whose floors are `jump`, and why; first drops
 * from `jump` every origin this node may not jump. A server may say
 * "snapshot" to anyone, and a jump skips ops, so this node jumps an origin
 * only as far as:
 *
 * - the origin itself vouches for: its own signed attestation (sent, or
 *   known here) holds that much, so no member can claim ops of another it
 *   never wrote (and an attestation cannot hold its own member's ops past
 *   its own seq). Any of its attestations sent counts, not only the newest:
 *   it wrote what it once vouched for, and a later one that says less cannot
 *   unsay it (hostile-claims.spec: a node that jumped a member's ops on its
 *   word and a peer that lacks them would otherwise never meet); unless the
 *   origin has been silent longer than the
 *   retention (its newest attestation and op are older than that, and one
 *   of them is known: an origin nothing speaks of is not silent but
 *   unvouched), where the attestations sent decide;
 * - never, for this node's own ops: it holds every one it wrote.
 *
 * It then takes the snapshot only when a jump passes what it holds, and:
 *
 * - 'returning': its own records show the group may have gone on without
 *   it: it was away (its newest op older than the retention when it
 *   opened), or since it last caught up it has counted a member as evicted
 *   (silent past the retention) or seen an attestation that does not count
 *   it (`ReplicaState.silent`, `countedOutBySomeone`), or it has stayed
 *   behind for `stuckMs` (`STUCK_MS`) with no such sign (one that never reached it); it
 *   takes the server's word for what was deleted and collected meanwhile,
 *   and deletes those values again itself, so every replica agrees whatever
 *   that word. Stuck, it also takes floors no member's attestation reaches
 *   (collected before some members were known, in an open group: those
 *   members can never reach them by pulling), as far as the origin itself
 *   vouches;
 * - 'joining': otherwise, only for origins it has never held an op of (it is
 *   new, or they are): it jumps only those and keeps what it has, since no
 *   member could have collected a delete of its rows without its attestation.
 *
 * A member cannot make a node that was in touch with the group jump an
 * origin it holds ops of, drop a row or write anything again, unless that
 * node has been stuck behind for `stuckMs`.
 */
export type SnapshotReason = 'returning' | 'joining'

export { STUCK_MS } from './state.js'
/**
 * Found behind after this long without an offer that found it so, a node
 * counts from then: servers stop offering once it has caught up (by ordinary
 * pulls, or a snapshot of other origins), so an old spell must not let one
 * offer, a hostile member's, be taken at once. Pulls come at least every
 * minute, from a peer picked among those connected.
 */
export const FORGET_BEHIND_MS = 600_000

export function snapshotReason (state: ReplicaState, jump: Map<string, Mark>, attestations: Op[], unattested: Map<string, Mark> = new Map()): SnapshotReason | undefined {
  const now = state.now()
  const silentSince = now - state.config.retentionMs
  const vouchedFor = (origin: string): { vouched: number, seen: number } => {
    const own = newestOwn(attestations, origin)
    // what it ever attested of its own ops: a later attestation that says less cannot unsay it (an origin wrote what it vouched for)
    const vouched = Math.max(mostOwn(attestations, origin), state.attestations.get(origin)?.marks.get(origin)?.seq ?? 0)
    const seen = Math.max(own?.stamp.wall ?? 0, state.attestations.get(origin)?.stamp.wall ?? 0, state.origins.get(origin)?.held.wall ?? 0)
    return { vouched, seen }
  }
  for (const [origin, mark] of jump) {
    const known = state.origins.get(origin)
    if (origin === state.self) {
      if (mark.seq > (known?.held.seq ?? 0)) jump.delete(origin)
      continue
    }
    const { vouched, seen } = vouchedFor(origin)
    // silent needs a sign: an origin nothing here speaks of at all (no op, no attestation) is not taken on the others' word
    if (mark.seq > vouched && (seen === 0 || seen >= silentSince)) jump.delete(origin)
  }
  const held = (origin: string): number => state.origins.get(origin)?.held.seq ?? 0
  const behind = [...jump].filter(([origin, mark]) => origin !== state.self && mark.seq > held(origin))
  // floors not every member reaches, of origins that vouch for them: only the stuck rule takes them (whether this node
  // holds ops of the origin or none: seed 9930, where nodes that never held any could not reach the floor either)
  const lagging = [...unattested].filter(([origin, mark]) => origin !== state.self && mark.seq > held(origin) && mark.seq <= vouchedFor(origin).vouched)
  if (behind.length === 0 && lagging.length === 0) {
    state.behind = undefined
    return undefined
  }
  noteSilent(state, now)
  if (behind.length > 0 && (state.absent || state.silent.size > 0 || countedOutBySomeone(state, attestations))) return 'returning'
  // no sign it was away, yet it stays behind what is collected (a sign that never reached it): after a while, it takes it
  if (behind.some(([origin]) => held(origin) > 0) || lagging.length > 0) {
    // a spell begins again after a long silence: it may have caught up meanwhile, and no server offers one that has
    if (state.behind === undefined || now - state.behind.seen > FORGET_BEHIND_MS) state.behind = { since: now, seen: now }
    state.behind.seen = now
    if (now - state.behind.since >= state.config.stuckMs) {
      for (const [origin, mark] of lagging) jump.set(origin, mark)
      return 'returning'
    }
  }
  // otherwise only origins it has never held an op of: nothing of its own can depend on what was collected of them
  for (const origin of jump.keys()) if (held(origin) > 0) jump.delete(origin)
  return behind.some(([origin]) => held(origin) === 0) ? 'joining' : undefined
}

/**
 * Whether a member's newest attestation (sent or known) holds none of this
 * node's ops, though this node has written some: that member does not count
 * it, so it may have collected without it (an open group where its ops never
 * reached the others, or waited there for their clocks). A member that ever
 * attested holding some of them cannot unsay it.
 */
function countedOutBySomeone (state: ReplicaState, attestations: Op[]): boolean {
  if ((state.origins.get(state.self)?.held.seq ?? 0) === 0) return false
  const members = new Set(attestations.map(op => op.origin))
  members.delete(state.self)
  for (const member of members) {
    const known = state.attestations.get(member)
    if (known?.marks.has(state.self) === true) continue
    const sent = newestOwn(attestations, member)
    if (sent !== undefined && (known === undefined || sent.seq >= known.seq) && !sent.marks.has(state.self)) return true
  }
  return false
}

/** The newest attestation among `ops` that `member` made, if any. */
function newestOwn (ops: Op[], member: string): Attestation | undefined {
  let newest: Attestation | undefined
  for (const op of ops) {
    if (op.origin !== member || (newest !== undefined && op.seq <= newest.seq)) continue
    try {
      newest = decodeAttestation(op)
    } catch {}
  }
  return newest
}

/** The most any of `member`'s attestations among `ops` says it held of its own ops (0: none says). */
function mostOwn (ops: Op[], member: string): number {
  let most = 0
  for (const op of ops) {
    if (op.origin !== member) continue
    try {
      most = Math.max(most, decodeAttestation(op).marks.get(member)?.seq ?? 0)
    } catch {}
  }
  return most
}

/** The mark a member's attestation among `ops` gives for the member itself, if any. */
export function ownMark (ops: Op[], member: string): Mark | undefined {
  return newestOwn(ops, member)?.marks.get(member)
}
