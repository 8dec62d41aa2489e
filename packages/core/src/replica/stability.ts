/**
 * What every member of the group holds, and so what may be collected.
 *
 * A node may drop an op it holds (a superseded op in history, a tombstone)
 * only once no member can ever need it again. It decides that from signed
 * attestations only, never from what a peer says in a sync:
 *
 * - every member counts: every origin this node holds ops of, and every
 *   member of a closed group, whether heard from or not, except those
 *   silent for longer than the retention (evicted);
 * - each of them has attested, and this node holds everything the attestation
 *   says its member held (so any op concurrent with what is collected is
 *   already here, and any op its member writes later is stamped after it);
 *   while a newer attestation claims more than this node holds, the
 *   member's newest one that passed (here, or found in history) stands in
 *   for it;
 * - each attested mark agrees with what this node holds at that seq (same
 *   stamp, same digest accumulator): an origin that signed two ops with one
 *   seq and showed each to different members is caught here, before either
 *   op can be collected. A member that disagrees on some origins only (and
 *   names nothing this node lacks) counts for the others once this node has
 *   asked it for those origins' ops again and taken all it served (until
 *   then a version this node lacks could be older than a delete it would
 *   collect), or once its mark differs as that of a member so asked did, or
 *   by one version this node holds of a seq signed twice alone; and those
 *   stay at this node's floors: the equivocator holds back its own ops alone.
 *
 * The cut is then, per origin, the lowest seq attested by any member.
 */
import { decodeAttestation, type Attestation } from '../attestation.js'
import { compareStamps } from '../compare.js'
import { attestationKey } from '../keys.js'
import { sameBytes, xorInto } from '../marks.js'
import { Unasked } from './unasked.js'
import type { Mark, OriginState, Stamp, Store } from '../types.js'

export interface StabilityInit {
  store: Store
  /** A mark this node's held prefix passed through recently, if it remembers it. */
  recent: (origin: string, seq: number) => Mark | undefined
  /** A remembered mark a little above `seq` (at most a few hundred seqs), if any. */
  above: (origin: string, seq: number) => Mark | undefined
  self: string
  origins: () => ReadonlyMap<string, OriginState>
  attestations: () => ReadonlyMap<string, Attestation>
  /** Members of a closed group: they count before they are ever heard from. */
  expected: ReadonlySet<string>
  /** The seq of `member`'s attestation whose disagreement on `origin` this node asked it about, and took all it served. */
  rechecked: (member: string, origin: string) => number | undefined
  /** That attestation's mark of `origin`, and this node's accumulator at its seq once asked (see `Stability.unchanged`). */
  recheckedMark: (member: string, origin: string) => RecheckedMark | undefined
  /** Counts `member`'s attestation `seq` as asked about on `origin`: it disagrees no more than the one that was. */
  asked: (member: string, origin: string, seq: number, mark: RecheckedMark) => void
  /** The seqs of `origin` at which this node took a second op (the last 64). */
  twice: (origin: string) => readonly number[]
  /** Members silent for longer than this stop holding back collection. */
  retentionMs: number
  /** When this replica was created (ms): how long an expected member has been silent at most. */
  createdAt: number
}

/** Why collection cannot go on, or the cut (origin → seq) it may go up to. */
export type Cut = { cut: Map<string, number>, members: number } | { blocked: string, member?: string, mismatch?: string }

/** An attested mark that disagrees with this node's ops at that seq. */
export interface Mismatch {
  member: string
  origin: string
  /** The attestation's own seq: a newer one from the member is checked afresh. */
  attestation: number
  /** What it attests of `origin`. */
  mark: Mark
}

/** A disagreement asked about: the member's mark of the origin, and this node's accumulator at the mark's seq. */
export interface RecheckedMark {
  mark: Mark
  mine: Uint8Array
}

/** How often history is searched again for a member's earlier attestation that passes. */
const SEARCH_AGAIN_MS = 10_000

/** The key of one member's disagreement on one origin: in `Stability.mismatches` and the state's `rechecked` and `recheckedMarks`. */
export function mismatchKey (member: string, origin: string): string {
  return `${member}\n${origin}`
}

export class Stability {
  private readonly init: StabilityInit
  /** Attestations (member → its seq) found consistent with this node's ops. */
  private readonly verified = new Map<string, number>()
  /**
   * Each member's newest attestation found consistent: while a newer one
   * claims ops this node does not hold (yet, or ever: a lie), the member
   * counts with what it last attested and this node could check.
   */
  private readonly lastGood = new Map<string, Attestation>()
  /** When history was last searched for a member's earlier attestations, for which newest one. */
  private readonly searched = new Map<string, { seq: number, at: number }>()
  readonly mismatches = new Map<string, Mismatch>()
  /** Disagreements that need no asking (see `unasked.ts`). */
  private readonly unasked: Unasked

  constructor (init: StabilityInit) {
    this.init = init
    this.unasked = new Unasked(init.store, init.twice)
  }

  /** Every member but this node, and those of them evicted for silence. */
  members (now: number): { active: string[], evicted: string[] } {
    const { self, expected, retentionMs, createdAt } = this.init
    const origins = this.init.origins()
    const attestations = this.init.attestations()
    const active: string[] = []
    const evicted: string[] = []
    for (const member of new Set([...origins.keys(), ...expected])) {
      if (member === self) continue
      const seen = Math.max(attestations.get(member)?.stamp.wall ?? 0, origins.get(member)?.held.wall ?? 0, expected.has(member) ? createdAt : 0)
      if (seen < now - retentionMs) evicted.push(member)
      else active.push(member)
    }
    return { active, evicted }
  }

  cut (now: number): Cut {
    const origins = this.init.origins()
    const attestations = this.init.attestations()
    const cut = new Map([...origins].map(([origin, state]) => [origin, state.held.seq]))
    const { active } = this.members(now)
    let blocked: Cut | undefined
    // every attestation is checked, even once one member blocks: a disagreement must be found to be resolved
    // (each is checked once: the result is kept until the member attests again)
    for (const member of active) {
      const attestation = attestations.get(member)
      if (attestation === undefined) {
        blocked ??= { blocked: `waiting for the first attestation of ${member}`, member }
        continue
      }
      const problem = this.check(attestation)
      if (problem == null) this.lastGood.set(member, attestation)
      // one that disagrees only on some origins (one of them showed two versions of an op, or it lies about them) counts
      // for the others, and holds those where this node's floors are: an equivocator holds back only its own ops (seed
      // 9647). Only once this node has asked the member for those origins' ops again and taken all it served: the
      // version it lacks may be older than a delete it would collect meanwhile, and bring that value back (seed 9848)
      const disagreed = problem?.mismatch === undefined ? undefined : this.disagreements(attestation)
      const pinned = disagreed !== undefined && [...disagreed].every(origin => this.init.rechecked(member, origin) === attestation.seq) ? disagreed : undefined
      const counted = problem == null || pinned !== undefined ? attestation : problem.mismatch === undefined ? this.fallback(member, attestation, now) : undefined
      if (counted === undefined) blocked ??= { ...(problem ?? { blocked: '' }), member }
      else for (const [origin, seq] of cut) cut.set(origin, Math.min(seq, pinned?.has(origin) === true ? (origins.get(origin)?.floor.seq ?? 0) : (counted.marks.get(origin)?.seq ?? 0)))
    }
    if (blocked !== undefined) return blocked
    // nor beyond what this node has itself attested: a snapshot of it then always carries the attestations behind its floors
    const own = attestations.get(this.init.self)
    if (own === undefined) return { blocked: 'this node has not attested yet' }
    for (const [origin, seq] of cut) cut.set(origin, Math.min(seq, own.marks.get(origin)?.seq ?? 0))
    return { cut, members: active.length + 1 }
  }

  /** Forgets verifications: this node learnt another version of an op, so its accumulators changed. */
  reset (): void {
    this.verified.clear()
    this.lastGood.clear()
    this.searched.clear()
    this.unasked.clear()
  }

  /** Forgets how members asked about `origin` differed: a snapshot gave this node its accumulators. */
  forgetAsked (origin: string): void {
    this.unasked.forget(origin)
  }

  /** A member whose mark of `origin` (`mark`, against this node's accumulator `mine` there) disagreed was asked about it, and sent all it had. */
  askedAbout (origin: string, mark: Mark, mine: Uint8Array): void {
    this.unasked.record(origin, mark, mine)
  }

  /** XOR of the digests of every op of `origin` held up to `seq`, or undefined below the floor. */
  accAt (origin: string, seq: number): Uint8Array | undefined {
    const state = this.init.origins().get(origin)
    if (state === undefined) return undefined
    if (seq === state.held.seq) return state.held.acc
    if (seq === state.floor.seq) return state.floor.acc
    if (seq < state.floor.seq || seq > state.held.seq) return undefined
    const recent = this.init.recent(origin, seq)
    if (recent !== undefined) return recent.acc
    // from the nearest mark above that this node remembers (or its held one): the accumulator there, less the ops between
    const above = this.init.above(origin, seq)
    const from = above !== undefined && above.seq <= state.held.seq ? above : state.held
    const acc = new Uint8Array(from.acc)
    for (const digest of this.init.store.digestsIn(origin, seq, from.seq)) {
      for (let i = 0; i < acc.length; i++) acc[i] = (acc[i] as number) ^ (digest[i] ?? 0)
    }
    return acc
  }

  /** The stamp of the op at `(origin, seq)`, as the mark of that seq records it. */
  stampAt (origin: string, seq: number): Stamp | undefined {
    const state = this.init.origins().get(origin)
    if (state !== undefined && seq === state.held.seq) return state.held
    if (state !== undefined && seq === state.floor.seq) return state.floor
    return this.init.recent(origin, seq) ?? this.init.store.stampAt(origin, seq)
  }

  /**
   * What stands in for a member's newest attestation while it claims ops this
   * node lacks: the newest of its earlier ones that passes, whether it passed
   * here as the newest (`lastGood`) or is found in history now, so every node
   * counts the member alike. Not simply the last one that passed here: which
   * that was depends on when each attestation arrived. A node that got a
   * member's second attestation together with its third, a lie, had checked
   * only the first, and counted the member as holding nothing for ever, while
   * one that had checked the second collected (hostile seed 4163).
   */
  private fallback (member: string, newest: Attestation, now: number): Attestation | undefined {
    const known = this.lastGood.get(member)
    // history is read again only for a newer attestation, or after a while (this node may have caught up meanwhile)
    const searched = this.searched.get(member)
    if (searched !== undefined && searched.seq === newest.seq && now - searched.at < SEARCH_AGAIN_MS) return known
    this.searched.set(member, { seq: newest.seq, at: now })
    for (const op of this.init.store.supersededOf(member, attestationKey(member), 16)) {
      let earlier: Attestation
      try {
        earlier = decodeAttestation(op)
      } catch {
        continue // checked on arrival; a stray one is no attestation
      }
      if (earlier.seq >= newest.seq) continue
      if (known !== undefined && earlier.seq <= known.seq) break // newest first: none newer than the one that passed here
      if (this.problemWith(earlier) !== undefined) continue
      this.lastGood.set(member, earlier)
      return earlier
    }
    return known
  }

  /** Why `attestation` cannot count yet: this node lacks what it covers, or disagrees with it. */
  private check (attestation: Attestation): { blocked: string, mismatch?: string } | undefined {
    if (this.verified.get(attestation.member) === attestation.seq) return undefined
    // a disagreement is recorded, to be asked again, by `disagreements`, which `cut` then runs
    const problem = this.problemWith(attestation)
    if (problem !== undefined) return problem
    const ofMember = mismatchKey(attestation.member, '')
    for (const key of this.mismatches.keys()) if (key.startsWith(ofMember)) this.mismatches.delete(key)
    this.verified.set(attestation.member, attestation.seq)
    return undefined
  }

  private problemWith (attestation: Attestation): { blocked: string, mismatch?: string } | undefined {
    for (const [origin, mark] of attestation.marks) {
      const problem = this.markProblem(attestation, origin, mark)
      if (problem !== undefined) return problem
    }
    return undefined
  }

  /**
   * The origins on which `attestation` disagrees with this node's ops, each
   * recorded to be asked again; undefined when it also names ops this node
   * lacks (it cannot count yet) or disagrees on nothing.
   */
  private disagreements (attestation: Attestation): Set<string> | undefined {
    const origins = new Set<string>()
    let behind = false
    for (const [origin, mark] of attestation.marks) {
      const problem = this.markProblem(attestation, origin, mark)
      if (problem === undefined) continue
      if (problem.mismatch === undefined) {
        behind = true
        continue
      }
      origins.add(origin)
      this.mismatches.set(mismatchKey(attestation.member, origin), { member: attestation.member, origin, attestation: attestation.seq, mark })
      if (this.init.rechecked(attestation.member, origin) === attestation.seq) continue
      if (problem.mine !== undefined && this.unasked.needsNone(origin, mark, problem.mine)) this.init.asked(attestation.member, origin, attestation.seq, { mark, mine: problem.mine })
      else this.unchanged(attestation, origin, mark, problem.mine)
    }
    return behind || origins.size === 0 ? undefined : origins
  }

  /**
   * Counts `attestation` as asked about on `origin` when it disagrees with
   * this node exactly as the one last asked about did: what it attests past
   * that one's mark is what this node holds there (the XOR of the two
   * members' accumulators equals that of this node's at the two seqs), so
   * asking again could bring nothing it has not asked for. A member that
   * signed two versions of one seq disagrees from that seq on for good, and
   * its every attestation rises with its own ops: asked anew each time, at
   * the pace a hostile one serves, it held back collection unevenly (hostile
   * seed 45542).
   */
  /** `mine`: this node's accumulator at the mark's seq, when its stamp there is the mark's (from `markProblem`). */
  private unchanged (attestation: Attestation, origin: string, mark: Mark, mine: Uint8Array | undefined): void {
    const before = this.init.recheckedMark(attestation.member, origin)
    if (before === undefined || mark.seq < before.mark.seq || mine === undefined) return
    if (!sameBytes(xorInto(mark.acc, before.mark.acc), xorInto(mine, before.mine))) return
    this.init.asked(attestation.member, origin, attestation.seq, { mark, mine })
  }

  /**
   * Why `mark` (of `attestation`, for `origin`) cannot count: this node lacks
   * ops it covers, or disagrees with it. A disagreement carries `mine`, this
   * node's accumulator at the mark's seq when its stamp there is the mark's
   * (for `unchanged`).
   */
  private markProblem (attestation: Attestation, origin: string, mark: Mark): { blocked: string, mismatch?: string, mine?: Uint8Array } | undefined {
    const state = this.init.origins().get(origin)
    if (state === undefined || state.held.seq < mark.seq) return { blocked: `behind the attestation of ${attestation.member} for ${origin}` }
    if (mark.seq < state.floor.seq) return undefined // agreed on when the floor passed it
    const acc = this.accAt(origin, mark.seq)
    const stamp = this.stampAt(origin, mark.seq)
    const sameStamp = stamp !== undefined && compareStamps(stamp, mark) === 0
    if (acc === undefined || !sameStamp || !sameBytes(acc, mark.acc)) {
      return { blocked: `the attestation of ${attestation.member} disagrees with this node's ops of ${origin} at seq ${mark.seq}`, mismatch: origin, ...(sameStamp ? { mine: acc } : {}) }
    }
    return undefined
  }
}
