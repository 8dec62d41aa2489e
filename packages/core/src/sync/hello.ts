/**
 * The puller's hello, and its short form. A hello names every origin this
 * node holds (about 60 bytes each), on every pull it makes and every pull it
 * serves: in a group at rest, where nearly every pull finds nothing to take,
 * that is most of what anti-entropy costs (issue #14: ~57 kB each way at
 * 1,000 origins). So a pull from a server whose last pull ended with the two
 * holding the same (`ReplicaState.inStep`) sends only a digest
 * of its vector (`summary`, with an empty vector, and `total`, the sum of
 * its seqs: a server below it knows the puller holds more, and pulls from
 * it in turn, as a whole vector would have told it). A server whose own
 * vector has the same digest holds nothing this node lacks, and answers
 * with its digest and `done`; one whose differs answers with its whole
 * vector and `done`, and the puller pulls again in full if that names ops it
 * lacks (`PullResult.again`): at once when they are more than gossip could
 * still be carrying (`inFlight`), else once gossip has had time to bring
 * them. A hello that asks for more than the vector (runs held waiting,
 * origins to recheck) is always whole.
 *
 * A server's digest is a claim like the rest: a lying one only keeps this
 * node from asking it (as a server that withholds does), and its vector
 * after a differing digest only decides whether to ask again.
 */
import { createHash } from 'node:crypto'
import { lacks } from './anti-entropy-pace.js'
import type { Hello } from './messages.js'
import { versionsAbove } from '../replica/known.js'
import { mismatchKey, type Mismatch } from '../replica/stability.js'
import { noteAsked, type ReplicaState } from '../replica/state.js'
import type { Mark, VersionVector } from '../types.js'

export type { Mismatch }

/** The sum of a vector's seqs (at most 2^53 − 1): sent with a digest, so the server can tell a puller that holds more than it does. */
export function totalOf (vector: VersionVector): number {
  let total = 0
  for (const seq of Object.values(vector)) total += seq ?? 0
  return Math.min(Number.MAX_SAFE_INTEGER, total)
}

/**
 * What a puller's hello claims, as a test of the server's vector: whether
 * the puller says it holds ops `ours` lacks. A whole hello's vector names
 * them; a short one's `total` above the server's own means there are some
 * (a seq higher somewhere). A claim only ever brings a pull sooner.
 */
export function claimOf (hello: Hello): (ours: VersionVector) => boolean {
  if (hello.summary === undefined) return ours => lacks(ours, hello.vector)
  const total = hello.total ?? 0
  return ours => totalOf(ours) < total
}

/** The digest of a vector: SHA-256 over its origins with a seq above 0, in order, base64. */
export function summarize (vector: VersionVector): string {
  const hash = createHash('sha256')
  for (const origin of Object.keys(vector).sort()) {
    const seq = vector[origin] ?? 0
    if (seq > 0) hash.update(`${origin}\n${seq}\n`)
  }
  return hash.digest('base64')
}

export interface HelloParts {
  group: string
  name: string
  /** The server, when known: its last exchange decides whether the short form may go. */
  peer?: string
  /** The server speaks the short form (murmurd: `/murmur/sync/3.1.0` or later was negotiated). */
  summary?: boolean
  vector: VersionVector
  /** Origin → seq to send again from (see `Hello.recheck`). */
  recheck: VersionVector
  /** `false`: a snapshot's rows are not wanted (`Hello.rows`; the server speaks 3.2.0). */
  rows?: false
}

/**
 * The origins to ask `peer` for again from the floor: those its attestation
 * disagreed on, not asked about since. Fills `rechecking` (`member\norigin`
 * → the mismatch), to mark rechecked once the server says done.
 */
export function rechecksOf (state: ReplicaState, peer: string | undefined, rechecking: Map<string, Mismatch>): VersionVector {
  const recheck: VersionVector = {}
  for (const mismatch of state.stability.mismatches.values()) {
    const key = mismatchKey(mismatch.member, mismatch.origin)
    if (mismatch.member !== peer || state.rechecked.get(key) === mismatch.attestation) continue
    rechecking.set(key, mismatch)
    // from where other versions are still taken (the floor, or just below it: known.ts)
    const known = state.origins.get(mismatch.origin)
    recheck[mismatch.origin] = known !== undefined ? versionsAbove(known) : 0
  }
  // the held seq of an origin whose next op was refused for order: its other versions, once (a refusal asks again)
  for (const [origin, held] of state.reorders) recheck[origin] = Math.min(recheck[origin] ?? held - 1, held - 1)
  state.reorders.clear()
  return recheck
}

/**
 * `member`'s attestation `seq`, which disagreed on `origin`, was asked about
 * and the server sent all it had: kept with its mark and this node's
 * accumulator there, so that a later attestation that disagrees no more
 * needs no asking (`Stability.unchanged`).
 */
export function recheckedOnce (state: ReplicaState, member: string, origin: string, seq: number, mark: Mark): void {
  const mine = state.stability.accAt(origin, mark.seq)
  noteAsked(state, member, origin, seq, mine !== undefined ? { mark, mine } : undefined)
  if (mine !== undefined) state.stability.askedAbout(origin, mark, mine)
}

/** The hello for a pull: the whole one, or its short form where `HelloParts` allow it. */
export function pullerHello (state: ReplicaState, parts: HelloParts): Hello {
  const skip: Record<string, Array<[number, number]>> = {}
  let runs = 0
  for (const origin of state.pending.origins()) {
    // the rest are not named: a member may make thousands of origins (each origin's runs are sorted once, then kept)
    if (runs >= 1024) break
    const ranges = state.pending.ranges(origin, 1024 - runs)
    runs += ranges.length
    if (ranges.length > 0) skip[origin] = ranges
  }
  const rechecks = Object.keys(parts.recheck).length
  const base = { t: 'hello' as const, group: parts.group, name: parts.name, now: Math.floor(state.now()), horizon: [state.horizon.wall, state.horizon.logical] as [number, number] }
  if (parts.summary === true && parts.peer !== undefined && state.inStep.has(parts.peer) && runs === 0 && rechecks === 0) return { ...base, vector: {}, summary: summarize(parts.vector), total: totalOf(parts.vector) }
  return { ...base, vector: parts.vector, ...(runs > 0 ? { skip } : {}), ...(rechecks > 0 ? { recheck: parts.recheck } : {}), ...(parts.rows === false ? { rows: false as const } : {}) }
}

/**
 * How many ops `theirs` names that `ours` lacks, up to which a node that
 * learns of them from a short hello's answer waits for gossip (500 ms in
 * murmurd) before it pulls them: under writes, the ops a differing digest
 * names are nearly always ones gossip is still carrying. More than this is
 * a stretch gossip will not bring (a partition, a node away), pulled at once.
 */
export const IN_FLIGHT_OPS = 64

/** Whether the ops `theirs` names and `ours` lacks are few enough to be gossip's still in flight (see `IN_FLIGHT_OPS`). */
export function inFlight (ours: VersionVector, theirs: VersionVector): boolean {
  let lacking = 0
  for (const [origin, seq] of Object.entries(theirs)) {
    lacking += Math.max(0, (seq ?? 0) - (ours[origin] ?? 0))
    if (lacking > IN_FLIGHT_OPS) return false
  }
  return true
}

/** Whether two vectors name the same ops (what `summarize` gives one digest for), without hashing either. */
export function sameHeld (a: VersionVector, b: VersionVector): boolean {
  return !lacks(a, b) && !lacks(b, a)
}

/** Whether this node held what the server said it held when the pull ended (false until then, and for a pull cut short). */
export function noteInStep (state: ReplicaState, peer: string | undefined, same: boolean): void {
  if (peer === undefined) return
  if (!same) {
    state.inStep.delete(peer)
    return
  }
  // a bound on servers remembered: a node pulls from the members it links to, far fewer
  if (state.inStep.size >= 4096) state.inStep.clear()
  state.inStep.add(peer)
}
