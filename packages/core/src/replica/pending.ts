/**
 * Ops that arrived before they can be applied: past a gap in their origin's
 * sequence (an earlier op has not arrived yet), or stamped further ahead of
 * this node's clock than the skew bound. They wait here, within a byte
 * budget, and are never counted as held: if they are dropped (over budget, or
 * on restart), a later sync brings them again.
 *
 * Over budget, the ops furthest ahead of the largest origin's go first: they
 * are the last to become applicable, and one origin flooding the buffer
 * cannot push out everyone else's.
 *
 * A waiting op holds its whole proof: 32 bytes a digest for every op the
 * batch covers (up to 1,024), however few of them came. Each proof is charged
 * once, to its origin, for as long as any op that holds it waits: an op was
 * charged only its own bytes, and a member that sent each small op in a proof
 * of 1,024 digests of its own made the 64 MiB budget pin ~10 GB.
 */
import { digestOf, sameBytes } from '../marks.js'
import type { Op, OpProof } from '../types.js'
import type { Witness } from './inbound.js'

/** `witnesses`: those of its key that came with it by sync, which it is measured against when it applies (seed 45698). */
interface Waiting { op: Op, digest: Uint8Array, bytes: number, witnesses?: readonly Witness[] }

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
interface HeldProof { refs: number, entry: Entry }

/**
 * An origin's waiting ops, by seq, and its seqs in a max-heap, so the furthest
 * ahead is found without a pass over them all (seqs removed stay in the heap
 * until they come to its top, or it is rebuilt once it holds twice as many as
 * wait): eviction took `Math.max(...seqs)`, a call with one argument a seq,
 * which a budget of small ops (~400,000) took past V8's stack, and a pass per
 * op evicted.
 */
interface Entry { bytes: number, seqs: Map<number, Waiting[]>, heap: number[] }

export class PendingOps {
  private readonly budget: number
  private readonly byOrigin = new Map<string, Entry>()
  private readonly proofs = new Map<OpProof, HeldProof>()
  private total = 0
  private count = 0

  constructor (budgetBytes: number) {
    this.budget = budgetBytes
  }

  get bytes (): number {
    return this.total
  }

  get size (): number {
    return this.count
  }

  /** Adds `op`, with the witnesses of its key that came with it; false when it is already here or the budget cannot fit it (it was not taken). */
  add (op: Op, digest: Uint8Array, witnesses?: readonly Witness[]): boolean {
    const bytes = sizeOf(op) + (witnesses?.length ?? 0) * WITNESS_BYTES
    const proof = op.proof
    if (bytes + (proof === undefined ? 0 : proofBytesOf(proof)) > this.budget) return false
    const entry = this.entryOf(op.origin)
    const versions = entry.seqs.get(op.seq) ?? []
    if (versions.some(w => sameBytes(w.digest, digest))) return false
    // its proof is charged unless an op that waits holds it already (an eviction may take that op)
    const proofCost = (): number => proof === undefined || this.proofs.has(proof) ? 0 : proofBytesOf(proof)
    while (this.total + bytes + proofCost() > this.budget) {
      if (!this.evictFor(op)) return false
    }
    versions.push({ op, digest, bytes, ...(witnesses !== undefined && witnesses.length > 0 ? { witnesses } : {}) })
    // an eviction above may have taken the origin's last op, and its entry
    const kept = this.entryOf(op.origin)
    if (!kept.seqs.has(op.seq)) pushSeq(kept, op.seq)
    kept.seqs.set(op.seq, versions)
    if (proof !== undefined) this.hold(proof, kept)
    kept.bytes += bytes
    this.total += bytes
    this.count++
    return true
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
    else entry.seqs.delete(seq)
    if (entry.seqs.size === 0) this.byOrigin.delete(origin)
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

  origins (): string[] {
    return [...this.byOrigin.keys()]
  }

  has (origin: string): boolean {
    return this.byOrigin.has(origin)
  }

  /** The seqs waiting for `origin`, in no order. */
  seqs (origin: string): Iterable<number> {
    return this.byOrigin.get(origin)?.seqs.keys() ?? []
  }

  /** Runs of consecutive seqs waiting for `origin`, lowest first: what a sync need not send again. */
  ranges (origin: string): Array<[number, number]> {
    const seqs = [...(this.byOrigin.get(origin)?.seqs.keys() ?? [])].sort((a, b) => a - b)
    const runs: Array<[number, number]> = []
    for (const seq of seqs) {
      const last = runs.at(-1)
      if (last !== undefined && last[1] === seq - 1) last[1] = seq
      else runs.push([seq, seq])
    }
    return runs
  }

  private entryOf (origin: string): Entry {
    let entry = this.byOrigin.get(origin)
    if (entry == null) this.byOrigin.set(origin, (entry = { bytes: 0, seqs: new Map(), heap: [] }))
    return entry
  }

  /** Evicts the furthest-ahead op of the largest origin, unless that is `op`'s own place or ahead of it; false when nothing may go. */
  private evictFor (op: Op): boolean {
    let largest: string | undefined
    for (const [origin, entry] of this.byOrigin) {
      if (largest === undefined || entry.bytes > (this.byOrigin.get(largest)?.bytes ?? 0)) largest = origin
    }
    if (largest === undefined) return false
    const entry = this.byOrigin.get(largest) as Entry
    const furthest = furthestSeq(entry)
    if (furthest === undefined || (largest === op.origin && furthest <= op.seq)) return false
    this.remove(largest, furthest)
    return true
  }

  private forget (entry: { bytes: number }, gone: Waiting): void {
    entry.bytes -= gone.bytes
    this.total -= gone.bytes
    this.count--
    const proof = gone.op.proof
    const held = proof === undefined ? undefined : this.proofs.get(proof)
    if (proof === undefined || held === undefined || --held.refs > 0) return
    this.proofs.delete(proof)
    held.entry.bytes -= proofBytesOf(proof)
    this.total -= proofBytesOf(proof)
  }

  /** One more waiting op holds `proof`: charged to `entry` (its origin's) if none did. */
  private hold (proof: OpProof, entry: Entry): void {
    const held = this.proofs.get(proof)
    if (held !== undefined) {
      held.refs++
      return
    }
    this.proofs.set(proof, { refs: 1, entry })
    entry.bytes += proofBytesOf(proof)
    this.total += proofBytesOf(proof)
  }
}

/** Adds `seq` (newly waiting) to `entry`'s heap, rebuilt from the seqs that wait once removed ones make up half of it. */
function pushSeq (entry: Entry, seq: number): void {
  const { heap } = entry
  if (heap.length >= 2 * entry.seqs.size + 64) {
    heap.length = 0
    for (const waiting of entry.seqs.keys()) siftUp(heap, waiting)
  }
  siftUp(heap, seq)
}

/** The furthest seq waiting in `entry` (removed seqs at the top of its heap are dropped on the way). */
function furthestSeq (entry: Entry): number | undefined {
  const { heap } = entry
  while (heap.length > 0 && !entry.seqs.has(heap[0] as number)) {
    const last = heap.pop() as number
    if (heap.length === 0) break
    heap[0] = last
    for (let i = 0; ;) {
      const left = 2 * i + 1
      const right = left + 1
      let top = i
      if (left < heap.length && (heap[left] as number) > (heap[top] as number)) top = left
      if (right < heap.length && (heap[right] as number) > (heap[top] as number)) top = right
      if (top === i) break
      ;[heap[i], heap[top]] = [heap[top] as number, heap[i] as number]
      i = top
    }
  }
  return heap[0]
}

function siftUp (heap: number[], seq: number): void {
  heap.push(seq)
  for (let i = heap.length - 1; i > 0;) {
    const parent = (i - 1) >> 1
    if ((heap[parent] as number) >= seq) break
    heap[i] = heap[parent] as number
    heap[parent] = seq
    i = parent
  }
}
