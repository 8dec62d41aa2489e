/**
 * Ops that arrived before they can be applied: past a gap in their origin's
 * sequence (an earlier op has not arrived yet), or stamped further ahead of
 * this node's clock than the skew bound. They wait here, within a byte
 * budget, and are never counted as held: if they are dropped (over budget, or
 * on restart), a later sync brings them again.
 *
 * Over budget, the ops furthest ahead of the largest origin's go first: they
 * are the last to become applicable, and one origin flooding the buffer
 * cannot push out everyone else's. Origins this node holds no op of go
 * before those it does (`known`): a member that signs each op as an origin of
 * its own (keys are free) made the largest honest origin the one to go, each
 * of its own origins being small.
 *
 * Nothing here takes a pass over every origin that has ops waiting: a member
 * of an open group may make each op it sends an origin of its own (keys are
 * free), and 300,000 of them fit the budget. The largest origin is kept in a
 * heap (a scan took 14 ms for each op that had to evict one), and so are the
 * origins the clock will let go (`due`): the replica looked at every waiting
 * origin each second, ~375 ms of a core for ever, for ops that only another
 * op of their writer can let go.
 *
 * A waiting op holds its whole proof: 32 bytes a digest for every op the
 * batch covers (up to 1,024), however few of them came. Each proof is charged
 * once, to its origin, for as long as any op that holds it waits: an op was
 * charged only its own bytes, and a member that sent each small op in a proof
 * of 1,024 digests of its own made the 64 MiB budget pin ~10 GB.
 */
import { digestOf, sameBytes } from '../marks.js'
import { Heap } from './heap.js'
import { OriginWaits, type Waiting } from './origin-waits.js'
import type { Op, OpProof } from '../types.js'
import type { Witness } from './inbound.js'

/** What a witness kept with a waiting op costs the budget: its stamp, origin, seq and signature. */
const WITNESS_BYTES = 160

/** What an op costs the budget: its key and value, plus the op and proof around them. */
export function sizeOf (op: Op): number {
  return op.key.length * 3 + (op.value?.length ?? 0) + 160
}

/** What a proof's digests cost the budget (its signature is in `sizeOf`), once however many of its ops wait. */
export function proofBytesOf (proof: OpProof): number {
  return proof.digests.byteLength
}

/** A proof that waiting ops hold: how many, and the origin it is charged to. */
interface HeldProof { refs: number, entry: OriginWaits }

/** An origin's bytes when they were last charged, and whether this node held an op of it: stale once either changes (the heap keeps the newest too). */
interface Size { bytes: number, rank: number, origin: string, known: boolean }

/** The time (an HLC wall time, less the skew bound) from which an origin's ops may be let go by the clock. */
interface Wake { at: number, origin: string }

/** What comes with an op to wait: the witnesses of its key that came with it by sync, and when the clock lets it go. */
export interface WaitOptions { witnesses?: readonly Witness[], wakeAt?: number }

export class PendingOps {
  private readonly budget: number
  private readonly byOrigin = new Map<string, OriginWaits>()
  private readonly proofs = new Map<OpProof, HeldProof>()
  /** Origins not known first, then by their bytes, largest first (then the one waiting longest). */
  private readonly sizes = new Heap<Size>((a, b) => a.known !== b.known ? !a.known : a.bytes > b.bytes || (a.bytes === b.bytes && a.rank < b.rank))
  private readonly known: (origin: string) => boolean
  /** Origins by when the clock may let their ops go, with the earliest time of each (older heap items are stale). */
  private readonly wakes = new Heap<Wake>((a, b) => a.at < b.at)
  private readonly wakeAt = new Map<string, number>()
  private ranks = 0
  private total = 0
  private count = 0

  /** `known`: whether this node holds an op of an origin (default: of none). */
  constructor (budgetBytes: number, known: (origin: string) => boolean = () => false) {
    this.budget = budgetBytes
    this.known = known
  }

  get bytes (): number {
    return this.total
  }

  get size (): number {
    return this.count
  }

  /** Adds `op` (see `WaitOptions`); false when it is already here or the budget cannot fit it (it was not taken). */
  add (op: Op, digest: Uint8Array, { witnesses, wakeAt }: WaitOptions = {}): boolean {
    const bytes = sizeOf(op) + (witnesses?.length ?? 0) * WITNESS_BYTES
    const proof = op.proof
    if (bytes + (proof === undefined ? 0 : proofBytesOf(proof)) > this.budget) return false
    const versions = this.byOrigin.get(op.origin)?.seqs.get(op.seq) ?? []
    if (versions.some(w => sameBytes(w.digest, digest))) return false
    // its proof is charged unless an op that waits holds it already (an eviction may take that op)
    const proofCost = (): number => proof === undefined || this.proofs.has(proof) ? 0 : proofBytesOf(proof)
    while (this.total + bytes + proofCost() > this.budget) {
      if (!this.evictFor(op)) return false
    }
    versions.push({ op, digest, bytes, ...(witnesses !== undefined && witnesses.length > 0 ? { witnesses } : {}), ...(wakeAt !== undefined ? { wakeAt } : {}) })
    // an eviction above may have taken the origin's last op, and its entry
    const kept = this.entryOf(op.origin)
    kept.set(op.seq, versions)
    this.count++
    if (proof !== undefined) this.hold(proof, kept)
    this.charge(kept, bytes)
    if (wakeAt !== undefined) this.wake(op.origin, wakeAt)
    return true
  }

  /**
   * Has `due` return `origin` once the clock reaches `at` (by default at
   * once): its ops wait for the clock, or something other than an op of its
   * own (a snapshot) moved what this node holds of it. Only an origin with
   * ops waiting; the earliest time asked for counts.
   */
  wake (origin: string, at = -Infinity): void {
    if (!this.byOrigin.has(origin) || (this.wakeAt.get(origin) ?? Infinity) <= at) return
    this.wakeAt.set(origin, at)
    if (this.wakes.size < 2 * this.wakeAt.size + 64) this.wakes.push({ at, origin })
    else this.wakes.reset([...this.wakeAt].map(([origin, at]) => ({ at, origin })))
  }

  /** The origins whose `wake` time `now` has reached, each once, in the order they began to wait; they are not woken again unless asked. */
  due (now: number): string[] {
    const due: OriginWaits[] = []
    for (let top = this.wakes.peek(); top !== undefined && top.at <= now; top = this.wakes.peek()) {
      this.wakes.pop()
      if (this.wakeAt.get(top.origin) !== top.at) continue
      this.wakeAt.delete(top.origin)
      const entry = this.byOrigin.get(top.origin)
      if (entry !== undefined) due.push(entry)
    }
    return due.sort((a, b) => a.rank - b.rank).map(entry => entry.origin)
  }

  /** The seqs of `origin` that wait in `(after, upTo]`, in no order. */
  seqsIn (origin: string, after: number, upTo: number): number[] {
    return this.byOrigin.get(origin)?.seqsIn(after, upTo) ?? []
  }

  /** The earliest time after `now` that the clock lets one of `origin`'s ops go, if any waits for it. */
  nextWake (origin: string, now: number): number | undefined {
    return this.byOrigin.get(origin)?.nextWake(now)
  }

  /** Every version waiting at `(origin, seq)`. */
  at (origin: string, seq: number): Op[] {
    return this.byOrigin.get(origin)?.seqs.get(seq)?.map(w => w.op) ?? []
  }

  /** The witnesses that came with the version of `op` (by digest) waiting here. */
  witnessesOf (op: Op): readonly Witness[] | undefined {
    const versions = this.byOrigin.get(op.origin)?.seqs.get(op.seq)
    // most ops that apply never waited, or came with none: no digest to compute
    if (versions === undefined || !versions.some(w => w.witnesses !== undefined)) return undefined
    const digest = digestOf(op)
    return versions.find(w => sameBytes(w.digest, digest))?.witnesses
  }

  /** Removes one version (by digest) or, without a digest, every version at `(origin, seq)`. */
  remove (origin: string, seq: number, digest?: Uint8Array): void {
    const entry = this.byOrigin.get(origin)
    const versions = entry?.seqs.get(seq)
    if (entry == null || versions == null) return
    const kept = digest == null ? [] : versions.filter(w => !sameBytes(w.digest, digest))
    for (const gone of versions.filter(w => !kept.includes(w))) this.forget(entry, gone)
    if (kept.length > 0) entry.seqs.set(seq, kept)
    else entry.drop(seq)
    if (entry.seqs.size > 0) return
    this.byOrigin.delete(origin)
    this.wakeAt.delete(origin)
  }

  /** Drops every op of `origin` at or below `seq` (now held by other means). */
  dropUpTo (origin: string, seq: number): void {
    const entry = this.byOrigin.get(origin)
    if (entry == null) return
    for (const s of [...entry.seqs.keys()]) if (s <= seq) this.remove(origin, s)
  }

  /** How many waiting ops `predicate` holds for. */
  countWhere (predicate: (op: Op) => boolean): number {
    let n = 0
    for (const entry of this.byOrigin.values()) for (const versions of entry.seqs.values()) for (const w of versions) if (predicate(w.op)) n++
    return n
  }

  /** The origins with ops waiting, in the order they began to wait (not copied: a hello reads the first few of 300,000). */
  origins (): Iterable<string> {
    return this.byOrigin.keys()
  }

  has (origin: string): boolean {
    return this.byOrigin.has(origin)
  }

  /** The seqs waiting for `origin`, in no order. */
  seqs (origin: string): Iterable<number> {
    return this.byOrigin.get(origin)?.seqs.keys() ?? []
  }

  /** The first `limit` runs of consecutive seqs waiting for `origin`, lowest first: what a sync need not send again. */
  ranges (origin: string, limit: number): Array<[number, number]> {
    return this.byOrigin.get(origin)?.ranges(limit) ?? []
  }

  private entryOf (origin: string): OriginWaits {
    let entry = this.byOrigin.get(origin)
    if (entry == null) this.byOrigin.set(origin, (entry = new OriginWaits(origin, this.ranks++)))
    return entry
  }

  /** Evicts the furthest-ahead op of the largest origin (of those not known, if any), unless that is `op`'s own place or ahead of it; false when nothing may go. */
  private evictFor (op: Op): boolean {
    for (let top = this.sizes.peek(); top !== undefined; top = this.sizes.peek()) {
      const entry = this.byOrigin.get(top.origin)
      if (entry === undefined || entry.rank !== top.rank || entry.bytes !== top.bytes || this.known(top.origin) !== top.known) {
        this.sizes.pop()
        // known since it was charged (its first op applied): in again, behind those not known
        if (entry !== undefined && entry.rank === top.rank && entry.bytes === top.bytes) this.pushSize(entry)
        continue
      }
      const furthest = entry.furthest()
      if (furthest === undefined || (top.origin === op.origin && furthest <= op.seq)) return false
      this.remove(top.origin, furthest)
      return true
    }
    return false
  }

  /** Adds `bytes` (less than nothing to take them back) to `entry`'s origin and the total. */
  private charge (entry: OriginWaits, bytes: number): void {
    entry.bytes += bytes
    this.total += bytes
    if (entry.bytes > 0) this.pushSize(entry)
  }

  private pushSize (entry: OriginWaits): void {
    const size = (e: OriginWaits): Size => ({ bytes: e.bytes, rank: e.rank, origin: e.origin, known: this.known(e.origin) })
    if (this.sizes.size < 2 * this.byOrigin.size + 64) this.sizes.push(size(entry))
    else this.sizes.reset([...this.byOrigin.values()].map(size))
  }

  private forget (entry: OriginWaits, gone: Waiting): void {
    this.count--
    entry.forget(gone)
    this.charge(entry, -gone.bytes)
    const proof = gone.op.proof
    const held = proof === undefined ? undefined : this.proofs.get(proof)
    if (proof === undefined || held === undefined || --held.refs > 0) return
    this.proofs.delete(proof)
    this.charge(held.entry, -proofBytesOf(proof))
  }

  /** One more waiting op holds `proof`: charged to `entry` (its origin's) if none did. */
  private hold (proof: OpProof, entry: OriginWaits): void {
    const held = this.proofs.get(proof)
    if (held !== undefined) {
      held.refs++
      return
    }
    this.proofs.set(proof, { refs: 1, entry })
    this.charge(entry, proofBytesOf(proof))
  }
}
