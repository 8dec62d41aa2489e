/**
 * Disagreements a node need not ask a member about again (see
 * `stability.ts`): its mark differs from this node's accumulator only by
 * versions held here of seqs signed twice (`lacksOnlyHeld`), or exactly as a
 * member asked about did (`askedAlike`). Asking the equivocator, which may
 * serve at a trickle, held one node's collection back alone.
 */
import { xorInto, xorOfSome } from '../marks.js'
import type { Mark, Store } from '../types.js'

/** The most versions `lacksOnlyHeld` takes a difference to be made of. */
const HELD_VERSIONS_CHECKED = 32

/** How many differences `record` keeps of one origin. */
const ASKED_KEPT = 64

export class Unasked {
  /**
   * Origin → how the members asked about it differed from this node once
   * they had sent all they had (the XOR of a mark's accumulator and this
   * node's there, hex; the last `ASKED_KEPT`), until this node's
   * accumulators change (`clear`, `forget`).
   */
  private readonly asked = new Map<string, Set<string>>()

  /** `twice`: the seqs of an origin at which this node took a second op (the last 64). */
  constructor (private readonly store: Store, private readonly twice: (origin: string) => readonly number[]) {}

  /** Whether a member whose `mark` of `origin` disagrees with this node's accumulator `mine` there counts as asked about without a pull. */
  needsNone (origin: string, mark: Mark, mine: Uint8Array): boolean {
    return this.lacksOnlyHeld(origin, mark, mine) || this.askedAlike(origin, mark, mine)
  }

  /** A member asked about `origin` sent all it had: its mark `mark` against this node's `mine` there. */
  record (origin: string, mark: Mark, mine: Uint8Array): void {
    const diffs = this.asked.get(origin) ?? new Set<string>()
    diffs.add(Buffer.from(xorInto(mark.acc, mine)).toString('hex'))
    if (diffs.size > ASKED_KEPT) diffs.delete(diffs.values().next().value as string)
    this.asked.set(origin, diffs)
  }

  /** This node's accumulators of `origin` changed (a snapshot). */
  forget (origin: string): void {
    this.asked.delete(origin)
  }

  /** This node's accumulators changed (it took another version of an op). */
  clear (): void {
    this.asked.clear()
  }

  /**
   * Whether `mark` differs from this node's ops of `origin` only by versions
   * this node holds of seqs it found signed twice (the XOR of the two
   * accumulators is the XOR of some of their digests, at most
   * `HELD_VERSIONS_CHECKED` of the newest seqs'): its member lacks those
   * versions, and holds nothing this node lacks, so asking it again could
   * bring nothing. Counted as asked about without asking: a node that took
   * a second version its floor had not passed yet disagrees with every
   * member that had not (they never take it), the equivocator among them,
   * which may serve its asking at a trickle for good, and this node alone
   * held back its collection while the others collected (hostile seed
   * 70229; 53046, with two versions the equivocator itself never took). A
   * member that lies gains nothing by it: its mark could as well agree
   * outright. An honest member that holds a version this node lacks is
   * taken for one that lacks some only if that version's digest is the XOR
   * of some of those 32: one chance in 2^224, unless the equivocator, who
   * signs both, computes it (as hard).
   */
  private lacksOnlyHeld (origin: string, mark: Mark, mine: Uint8Array): boolean {
    const digests: Uint8Array[] = []
    for (const seq of [...this.twice(origin)].reverse()) {
      if (seq > mark.seq) continue
      digests.push(...this.store.digestsAt(origin, seq))
      if (digests.length >= HELD_VERSIONS_CHECKED) break
    }
    return digests.length > 0 && xorOfSome(xorInto(mark.acc, mine), digests.slice(0, HELD_VERSIONS_CHECKED))
  }

  /**
   * Whether `mark` differs from this node's ops of `origin` exactly as a
   * member asked about since this node's accumulators last changed did, once
   * it had sent all it had (`record`): it holds the same versions this
   * node lacks, and the asking brought all of them this node could take (a
   * version below its floor it never takes), so asking this one could bring
   * nothing more. What `unchanged` does for a member's own later marks, for
   * any member's: a node that lacked a second version every other member
   * took (its floor had passed it) asked the honest ones at once, and was
   * held back alone, its tombstones apart from the others', asking the
   * equivocator, which trickles (hostile seed 52779). A member that lies its
   * way into being recorded can spare an honest one that holds a version
   * this node lacks the asking: that version's keys agree all the same (its
   * holders write them again), and what the asking guards against, a
   * version older than a delete this node then collects, the equivocator
   * can bring about alone by withholding it (README, Security).
   */
  private askedAlike (origin: string, mark: Mark, mine: Uint8Array): boolean {
    return this.asked.get(origin)?.has(Buffer.from(xorInto(mark.acc, mine)).toString('hex')) === true
  }
}
