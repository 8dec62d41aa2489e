/**
 * Ops a node holds already, sorted out before any is checked. An op at or
 * below its origin's floor, held here with the same digest, or waiting here
 * with it changes nothing whatever its proof says, so it needs no signature
 * check: otherwise a member that signed its ops one at a time, once, could
 * replay them for ever (reordered, so gossipsub sees new messages) and buy
 * a signature check per op (65 µs, up to ~470 µs on a loaded machine) for
 * the price of sending ~90 bytes.
 *
 * The digest is the op's own: the decoder puts each op's digest into its
 * proof's slot (see `proof.ts`), and an op its proof does not cover is never
 * known, so an op whose content differs from the one held (a second op on
 * one seq, an altered value) is not known, and is checked.
 */
import { compareStamps } from '../compare.js'
import { digestOf, sameBytes } from '../marks.js'
import { proofProblem } from '../proof.js'
import type { Refusal } from './checker.js'
import type { ReplicaState } from './state.js'
import type { Op, OriginState } from '../types.js'

/** Whether `op` changes nothing here (see above). */
export function isKnown (state: ReplicaState, op: Op, digest = digestOf(op)): boolean {
  // the digest read from the proof is the op's own only if the proof covers it (the decoder makes sure; here, anyone)
  if (op.proof != null && proofProblem(op) !== undefined) return false
  const origin = state.origins.get(op.origin)
  if (origin !== undefined && op.seq <= origin.floor.seq) return !unseenAtFloor(op, origin)
  if (origin !== undefined && op.seq <= origin.held.seq && state.store.digestsAt(op.origin, op.seq).some(d => sameBytes(d, digest))) return true
  return state.pending.has(op.origin) && state.pending.at(op.origin, op.seq).some(waiting => sameBytes(digestOf(waiting), digest))
}

/**
 * Whether `op` is a version of its origin's held seq, at the floor too, that
 * this node never held: one stamped before the held seq's stamp, which is the
 * earliest of the versions held there (`applyOps` keeps it so), so no replay
 * of one of them. The floor passed that seq with the versions held then; an
 * earlier one an equivocating origin shows later is taken as one above the
 * floor would be, or this node alone would refuse the origin's next op for
 * order for good, as stamped before the version it holds (hostile seed
 * 48908; and 70314's scenarios, where the versions held there had been
 * collected). By stamp, not by digest: the versions held at that seq may be
 * collected, all or some (one superseded, another still a row), and a
 * replay of a collected one must never be taken again (hole 3). A version
 * stamped later orders nothing differently; a node that does not take it
 * agrees on its key all the same, as the nodes that hold both write that
 * key again (see `inbound.ts`).
 */
function unseenAtFloor (op: Op, origin: OriginState): boolean {
  return op.seq > versionsAbove(origin) && compareStamps(op, origin.held) < 0
}

/**
 * The seq above which another version of an origin's op is still taken: its
 * floor, or just below it while the held seq is the floor's (see
 * `unseenAtFloor`). Receiving, applying and asking again all go by it.
 */
export function versionsAbove (origin: OriginState): number {
  const floor = origin.floor.seq
  return floor > 0 && floor === origin.held.seq ? floor - 1 : floor
}

/** Whether any of `ops` is looked up in the store: then all are, in one read transaction (see `receive`). */
export function readsHeld (state: ReplicaState, ops: Op[]): boolean {
  return ops.some(op => op.seq <= (state.origins.get(op.origin)?.held.seq ?? 0))
}

export interface Screened {
  /** The ops not known here, checked. */
  fresh: Op[]
  /** How many were known (and so not checked). */
  known: number
  /** Why the first fresh op that must be refused is, if one is. */
  refusal?: Refusal
}

/** Sorts a gossip message's ops: known ones apart, the others checked until one must be refused. */
export function screen (state: ReplicaState, ops: Op[]): Screened {
  const out: Screened = { fresh: [], known: 0 }
  const sort = (): void => {
    for (const op of ops) {
      if (isKnown(state, op)) {
        out.known++
        continue
      }
      const refusal = state.checker.problem(op)
      if (refusal != null) {
        out.refusal = refusal
        return
      }
      out.fresh.push(op)
    }
  }
  if (readsHeld(state, ops)) state.store.transaction(sort)
  else sort()
  return out
}
