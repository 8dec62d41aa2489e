/**
 * Ops from peers, by gossip or sync: check → wait → apply in order → account.
 *
 * - Known: an op at or below its origin's floor, or one held or waiting
 *   already (same digest), changes nothing: replaying a genuine op, even one
 *   whose delete has since been collected, brings nothing back. It is not
 *   checked either (see `known.ts`).
 * - Check: a bad signature, an origin off the allow-list, or a malformed
 *   record is refused.
 * - Wait: every other op waits in the pending buffer until it is the next in
 *   its origin's sequence and its stamp is within the clock-skew bound.
 *   An op stamped before the op its origin wrote just before it is refused:
 *   no honest clock does that, and after an origin attested to a delete,
 *   nothing it writes may be older than that delete.
 * - Apply: in one transaction; the origin's held prefix then covers it.
 *   Nothing is ever counted that was not applied, so whatever was refused,
 *   dropped or lost to a failed commit is fetched again by a later sync.
 *   A value that becomes its key's row though older than a delete this node
 *   collected (only an origin the group went on without can send one) is
 *   named to be written again (`nameRewrite`), and so is each row a version
 *   of an equivocated seq holds: nodes whose floor had passed that seq never
 *   take the version they lack.
 */
import { decodeAttestation } from '../attestation.js'
import { compareStamps, isNewer } from '../compare.js'
import { isReserved } from '../keys.js'
import { digestOf } from '../marks.js'
import { applyOps } from './apply.js'
import { Arrivals } from './arrivals.js'
import type { Refusal } from './checker.js'
import { isKnown, readsHeld, versionsAbove } from './known.js'
import { noteCountedOut, type ReplicaState } from './state.js'
import { nameRewrite, saveRewrites } from './rewrites.js'
import type { Op, PastVersion, RowHead, Stamp, Version } from '../types.js'

/**
 * A checked op that shows which op of its key lost, as a pull keeps it: its
 * version and batch signature. `isNewer` reads its value only for two ops of
 * one version under one signature, which hold one digest, so one op.
 */
export type Witness = Version & { proof?: { sig: Uint8Array } }

export interface ReceiveContext {
  via: 'gossip' | 'sync'
  /** Ops (checked) that show which key an op lost on: a sync's witnesses, by key. */
  witnesses?: ReadonlyMap<string, Witness[]>
}

export interface Received {
  /** Ops that became the row of their (user) key. */
  changed: Op[]
  refused: Refusal[]
  /** Ops applied (changed or not). */
  applied: number
  /** Ops waiting for an earlier op of their origin, or for the clock. */
  waiting: number
  /** Of those, ops waiting because they are stamped beyond the clock-skew bound. */
  held: number
  /** Gossip left for sync: ops older than what this node has collected, from an origin not shown to have seen it. */
  deferred: number
  /** Ops checked and then neither applied nor left waiting: `deferred`, or with no room to wait (see `pending.ts`). */
  unkept: Op[]
  duplicates: number
  /** Some origin has ops waiting behind a gap (or deferred): pull soon. */
  gap: boolean
  /** `(origin, seq)` where a second op signed with one seq was taken. */
  equivocations: Array<{ origin: string, seq: number }>
  /** Past versions found to have lost to a write that had not seen them (see `conflicts.ts`). */
  conflicts: PastVersion[]
}

export function emptyReceived (): Received {
  return { changed: [], refused: [], applied: 0, waiting: 0, held: 0, deferred: 0, unkept: [], duplicates: 0, gap: false, equivocations: [], conflicts: [] }
}

export function receive (state: ReplicaState, ops: Op[], context: ReceiveContext): Received {
  const out = emptyReceived()
  const arrived = new Arrivals(state)
  // an op at or below its origin's held seq is looked up: all in one read transaction, not one each
  // (outside one SQLite takes and drops its read lock per statement: a held op cost ~27 µs, now ~11)
  if (readsHeld(state, ops)) state.store.transaction(() => { classify(state, ops, context, out, arrived) })
  else classify(state, ops, context, out, arrived)
  drain(state, arrived, out, context)
  // what could not apply yet waits, within the budget; what does not fit is fetched again later
  out.unkept.push(...arrived.park(context.witnesses))
  out.waiting = state.pending.size
  return out
}

/** Sorts arrivals: refused, already held (duplicates), left for sync (deferred), or to apply (`arrived`). */
function classify (state: ReplicaState, ops: Op[], context: ReceiveContext, out: Received, arrived: Arrivals): void {
  for (const op of ops) {
    // one held or waiting already changes nothing, whatever its proof: not checked (see `known.ts`)
    const digest = digestOf(op)
    if (isKnown(state, op, digest)) {
      out.duplicates++
      continue
    }
    const refusal = state.checker.problem(op)
    if (refusal != null) out.refused.push(refusal)
    else if (context.via === 'gossip' && !mayTakeGossip(state, op)) {
      out.deferred++
      out.unkept.push(op)
      out.gap = true
    } else if (!arrived.add(op, digest)) out.duplicates++
  }
}

/**
 * Applies whatever waiting ops have become applicable (call when the clock
 * moves on): those of the origins the clock has now reached or a snapshot
 * moved (`PendingOps.due`). Ops that wait past a gap wait for an op of their
 * writer, which drains them when it comes: looking at them all each second
 * cost a core for as long as a member's ops of many origins waited.
 */
export function release (state: ReplicaState): Received {
  const out = emptyReceived()
  const now = state.now()
  const due = state.pending.due(now)
  if (due.length > 0) drain(state, new Arrivals(state, due), out, { via: 'sync' })
  // what the clock still holds back of them is looked at again when it reaches it
  for (const origin of due) {
    const next = state.pending.nextWake(origin, now)
    if (next !== undefined) state.pending.wake(origin, next)
  }
  out.waiting = state.pending.size
  return out
}

/**
 * Gossip is taken on trust only from an origin that has attested to every
 * floor here (so it has seen every delete collected here and writes after
 * them), or when the op is newer than anything collected. Anything else may
 * be an old write of a node the group has not heard of: it comes through a
 * sync, which brings the ops that supersede it along with it.
 */
function mayTakeGossip (state: ReplicaState, op: Op): boolean {
  if (compareStamps(op, state.horizon) > 0) return true
  const attestation = state.attestations.get(op.origin)
  if (attestation === undefined || attestation.seq >= op.seq) return false
  // one pass over the origins when the attestation is new or floors moved, not one an op: a member may send many
  // ops stamped before the horizon, and a group of many origins made each cost ~50 ns an origin (0.5 ms at 10,000)
  const known = state.covering.get(attestation)
  if (known?.floorsMoved === state.floorsMoved) return known.covers
  let covers = true
  for (const [origin, { floor }] of state.origins) {
    if (floor.seq > (attestation.marks.get(origin)?.seq ?? 0)) {
      covers = false
      break
    }
  }
  state.covering.set(attestation, { floorsMoved: state.floorsMoved, covers })
  return covers
}

/** The ops held at `(origin, seq)` that are the rows of their (user) keys. */
function rowsOfSeq (state: ReplicaState, origin: string, seq: number): Op[] {
  return state.store.opsOf(origin, seq - 1, 1).filter(op => op.seq === seq && op.superseded !== true && !isReserved(op.key))
}

function drain (state: ReplicaState, arrived: Arrivals, out: Received, context: ReceiveContext): void {
  const now = state.now()
  const ready: Op[] = []
  // an op that waited is measured against the witnesses that came with it, as much as those of this receive: it may
  // apply on a later sync's ops, or on gossip, which bring none of its key (seed 45698: a value took a key whose
  // delete this node lacked, the witness that said so gone with the sync that brought it)
  let witnesses = context.witnesses
  const take = (op: Op): void => {
    const carried = state.pending.witnessesOf(op)
    if (carried !== undefined) {
      const merged: Map<string, Witness[]> = witnesses === context.witnesses ? new Map(context.witnesses) : witnesses as Map<string, Witness[]>
      merged.set(op.key, [...(merged.get(op.key) ?? []), ...carried])
      witnesses = merged
    }
    arrived.remove(op)
    ready.push(op)
  }
  for (const origin of arrived.origins) {
    const known = state.origins.get(origin)
    const held = known?.held.seq ?? 0
    let previous: Stamp | undefined = held > 0 ? known?.held : undefined
    // other versions of seqs already held (equivocation): checked against the clock only; one of the held seq
    // stamped earlier is the previous op the next seq is ordered against (the held seq's even at the floor: known.ts)
    for (const seq of arrived.seqsIn(origin, known !== undefined ? versionsAbove(known) : 0, held)) {
      for (const op of arrived.at(origin, seq)) {
        if (!clockAllows(state, arrived, op, now, out)) continue
        take(op)
        if (seq === held && previous !== undefined && compareStamps(op, previous) < 0) previous = op
      }
    }
    for (let seq = held + 1; ; seq++) {
      const versions = arrived.at(origin, seq)
      if (versions.length === 0) break
      const refused = out.refused.length
      const acceptable = versions.filter(op => clockAllows(state, arrived, op, now, out) && ordered(arrived, op, previous, out))
      // refused for order after the held seq: a version of it stamped earlier may exist, unseen here (hostile seeds
      // 14630, and 48908 with the held seq at the floor)
      if (seq === held + 1 && held > 0 && out.refused.length > refused && out.refused.some((r, i) => i >= refused && r.kind === 'order')) state.reorders.set(origin, held)
      // all versions of one seq go together; any still waiting for the clock holds back the rest
      if (acceptable.length === 0 || arrived.at(origin, seq).length > acceptable.length) break
      for (const op of acceptable) take(op)
      previous = acceptable.reduce((low, op) => compareStamps(op, low) < 0 ? op : low)
    }
  }
  if (ready.length > 0) commit(state, ready, witnesses, out)
  for (const origin of arrived.origins) {
    // ops wait past a missing one (not merely for the clock): only a sync can bring it
    if (arrived.has(origin) && arrived.at(origin, (state.origins.get(origin)?.held.seq ?? 0) + 1).length === 0) out.gap = true
  }
}

/** Whether `op` may be applied now; refuses (and drops) one stamped beyond the longest hold. */
function clockAllows (state: ReplicaState, arrived: Arrivals, op: Op, now: number, out: Received): boolean {
  if (op.wall <= now + state.config.maxClockSkewMs) return true
  if (op.wall > now + state.config.maxHoldMs) {
    arrived.remove(op)
    out.refused.push({ op, reason: `stamped ${Math.round((op.wall - now) / 1000)} s ahead of this node's clock`, kind: 'future', forged: false })
  } else {
    out.held++
  }
  return false
}

/** How many seqs signed twice `ReplicaState.twice` keeps of one origin, and of how many origins. */
const TWICE_KEPT = 64
const TWICE_ORIGINS = 256

/** Whether `op` is stamped after its origin's previous op; refuses (and drops) it otherwise. */
function ordered (arrived: Arrivals, op: Op, previous: Stamp | undefined, out: Received): boolean {
  if (previous === undefined || compareStamps(op, previous) > 0) return true
  arrived.remove(op)
  out.refused.push({ op, reason: 'stamped before its origin\'s previous op', kind: 'order', forged: false })
  return false
}

/**
 * This node's own writes, made inside the transaction that applies them: the
 * reads they are made from (each key's row, what the writer had seen) then
 * share its read lock, where each on its own took one (~5 µs a statement).
 */
export type LocalBatch = () => { ops: Op[], rows?: Map<string, RowHead> }

/** Applies ops received (or this node's own, `LocalBatch`) in one transaction and moves the replica's state along with it; returns them. */
export function commit (state: ReplicaState, batch: Op[] | LocalBatch, witnesses: ReadonlyMap<string, Witness[]> | undefined, out: Received): Op[] {
  const local = !Array.isArray(batch)
  // this node's own new writes were stamped by its clock already
  if (!local) state.hlc.update(batch.reduce((max, op) => compareStamps(op, max) > 0 ? op : max))
  const superseded = (op: Op): boolean => (witnesses?.get(op.key) ?? []).some(w => isNewer(w, op) && w.seq <= (state.origins.get(w.origin)?.held.seq ?? 0))
  let ops: Op[] = []
  const applied = state.store.transaction(() => {
    const made = local ? batch() : { ops: batch, rows: undefined }
    ops = made.ops
    const result = applyOps(state.store, state.origins, ops, state.history, superseded, local, made.rows)
    state.store.setClock(state.hlc.peek())
    for (const { origin, seq } of result.equivocations) {
      const seqs = state.twice.get(origin) ?? []
      if (!seqs.includes(seq)) {
        state.twice.delete(origin)
        state.twice.set(origin, [...seqs, seq].slice(-TWICE_KEPT))
        // the origins that equivocated last: sybils that each sign twice grow it by one each, and it is written whole
        for (const [stale] of state.twice) if (state.twice.size > TWICE_ORIGINS) state.twice.delete(stale)
        state.store.setMeta('twice', JSON.stringify(Object.fromEntries(state.twice)))
      }
      if (state.equivocators.has(origin)) continue
      state.equivocators.set(origin, seq)
      state.store.setMeta('equivocators', JSON.stringify(Object.fromEntries(state.equivocators)))
    }
    // a value older than a delete collected here, taken from a peer: that delete may have been of its key, and no
    // op is left here to say so; written again it means the same on every node (see `nameRewrite`)
    const old = local ? [] : result.changed.filter(op => op.value !== null && compareStamps(op, state.horizon) < 0)
    for (const op of old) nameRewrite(state, op.key, op, false)
    // a second version of a seq: a node whose floor passed that seq before it showed up cannot tell it from a replay
    // and never takes it (see `known.ts`), so each version held here that is its key's row is written again, and the
    // key means the same on every node whichever versions each holds (hostile seed 70314)
    const versions = result.equivocations.flatMap(({ origin, seq }) => rowsOfSeq(state, origin, seq))
    for (const op of versions) nameRewrite(state, op.key, op, op.value === null)
    if (old.length > 0 || versions.length > 0) saveRewrites(state)
    return result
  })
  for (const [origin, next] of applied.states) state.origins.set(origin, next)
  for (const [origin, passed] of applied.marks) state.recent.add(origin, passed)
  for (const { origin } of applied.equivocations) state.recent.forget(origin)
  for (const record of applied.records) {
    try {
      const attestation = decodeAttestation(record)
      noteCountedOut(state, attestation)
      state.attestations.set(attestation.member, attestation)
    } catch {} // checked on arrival (`OpChecker`); a stray one only means no attestation from its member
  }
  if (applied.equivocations.length > 0) state.stability.reset()
  if (ops.some(op => !isReserved(op.key))) state.dirty = true
  out.changed.push(...applied.changed)
  out.applied += ops.length
  out.equivocations.push(...applied.equivocations)
  out.conflicts.push(...applied.conflicts)
  return ops
}
