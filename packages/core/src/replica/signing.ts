/**
 * Own ops signed when they leave, not when they commit (`ReplicaInit.signLater`).
 *
 * A receiver's cost of an op is mostly its batch's signature check (~65 µs
 * with Ed25519, against ~20 µs for the rest of an op from gossip), and a
 * writer of single puts signs a batch per commit. Signed as they are about
 * to be published, the ops of several commits share one batch: one
 * signature per message for the writer and for every receiver.
 *
 * The rule that keeps it safe: an op leaves this node only with a proof that
 * is on disk (`durable` never passes `proven`, and the caller marks ops
 * durable once the proof's transaction is fsynced), so the op never exists
 * under two different proofs, and replicas keep identical rows. Own ops
 * still unsigned after a restart were never sent: `prove([])` signs them.
 */
import { proveOps } from '../proof.js'
import type { ReplicaState } from './state.js'
import type { Op } from '../types.js'

const PAGE = 512
/**
 * A commit of this many ops or more is signed at once when nothing before it
 * waits to be signed: its ops share a signature already (a group commit of
 * concurrent writers, a batch), and signing it later would write each row
 * twice and hold its publish for an fsync of the proofs (under concurrent
 * load that fsync doubled the put → event p99). What gathers is single puts.
 */
export const SIGN_AT_COMMIT_OPS = 2

/**
 * The signer for `ops`, this node's next ops, inside their commit; undefined
 * when they are signed as they leave. Signed now when nothing before them
 * waits to be signed and they would gain little by waiting: a commit of
 * several ops, or ops that leave at once (`leavesAtOnce`), whose proof then
 * costs no write and no fsync of its own.
 */
export function signerAtCommit (state: ReplicaState, ops: Op[]): ((payload: Uint8Array) => Uint8Array) | undefined {
  if (!state.signLater) return state.sign
  if (state.proven !== (ops[0]?.seq ?? 0) - 1) return undefined
  return ops.length >= SIGN_AT_COMMIT_OPS || state.leavesAtOnce?.() === true ? state.sign : undefined
}

/** `ops` were committed: those signed in their commit count as signed. */
export function committed (state: ReplicaState, ops: Op[]): void {
  const last = ops.at(-1)
  if (state.signLater && last?.proof != null) state.proven = Math.max(state.proven, last.seq)
}

/**
 * Signs this node's unsigned ops up to the highest of `ops` (its own, as
 * `write` returned them, in any order: commits may be acknowledged out of
 * order), or up to the last it holds when `ops` is empty, and stores their
 * proofs in one transaction. Unsigned ops in that range that `ops` lacks
 * (their publish never came, or comes later) are read back and signed with
 * them, and ops of `ops` signed so already get the proof stored for them.
 * Returns every op signed.
 */
export function proveOwn (state: ReplicaState, ops: Op[]): Op[] {
  const sign = state.sign
  if (sign == null || !state.signLater) return []
  // ops signed already, from a copy read back (a message was signed before this one): they carry the stored proof
  for (const op of ops) {
    if (op.proof != null || op.seq > state.proven) continue
    op.proof = state.store.opsOf(state.self, op.seq - 1, 1).find(held => held.seq === op.seq && held.proof != null)?.proof
  }
  // the unsigned ops handed over, once each, in seq order
  const bySeq = new Map<number, Op>()
  for (const op of ops) if (op.seq > state.proven && op.proof == null && !bySeq.has(op.seq)) bySeq.set(op.seq, op)
  const given = [...bySeq.values()].sort((a, b) => a.seq - b.seq)
  const top = given.at(-1)?.seq ?? (ops.length > 0 ? state.proven : state.origins.get(state.self)?.held.seq ?? 0)
  if (top <= state.proven) return []
  const unsigned = given.length === top - state.proven ? given : withMissing(state, given, top)
  // a batch names its first seq and covers the next ones in order: one batch (or more, `proveOps` splits) per run
  let start = 0
  for (let i = 1; i <= unsigned.length; i++) {
    if (i < unsigned.length && (unsigned[i] as Op).seq === (unsigned[i - 1] as Op).seq + 1) continue
    proveOps(unsigned.slice(start, i), sign)
    start = i
  }
  try {
    if (unsigned.length > 0) state.store.transaction(() => { state.store.prove(unsigned) })
  } catch (err) {
    // not stored: the next call signs them again
    for (const op of unsigned) delete op.proof
    throw err
  }
  state.proven = top
  return unsigned
}

/** `given` (in seq order) with the unsigned ops held in `(proven, top]` that it lacks, read back, in seq order. */
function withMissing (state: ReplicaState, given: Op[], top: number): Op[] {
  const have = new Set(given.map(op => op.seq))
  const all = [...given]
  for (let after = state.proven; after < top;) {
    const page = state.store.opsOf(state.self, after, PAGE)
    for (const op of page) if (op.seq <= top && !have.has(op.seq) && op.proof == null) all.push(op)
    const last = page.at(-1)
    if (last === undefined || page.length < PAGE) break
    after = last.seq
  }
  return all.sort((a, b) => a.seq - b.seq)
}
