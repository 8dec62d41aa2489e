/**
 * One node's copy of the map: a store plus the clock and sequence counter that
 * stamp this node's writes.
 */
import { compareStamps } from './compare.js'
import { HybridLogicalClock } from './hlc.js'
import { proveOps } from './proof.js'
import { seqOf } from './vector.js'
import type { Change, ListOptions, MissingOptions, MissingPage, Op, Stamp, Store, StoreCounts, VersionVector } from './types.js'

export interface ReplicaInit {
  store: Store
  /** This node's ID; the origin of every op it writes. */
  nodeId: string
  /** Physical time in milliseconds. Default: `Date.now`. */
  now?: () => number
  /** Signs each batch of ops this node writes (over `proofPayload`; see `proveOps`). Default: ops are unsigned. */
  sign?: (payload: Uint8Array) => Uint8Array
}

export class Replica {
  readonly nodeId: string
  readonly store: Store
  private readonly hlc: HybridLogicalClock
  private readonly sign?: (payload: Uint8Array) => Uint8Array
  /** The last seq this node issued or learnt it had issued; the next write uses the one after. */
  private ownSeq: number

  constructor (init: ReplicaInit) {
    this.store = init.store
    this.nodeId = init.nodeId
    this.hlc = new HybridLogicalClock({ now: init.now, initial: init.store.clock() })
    this.sign = init.sign
    this.ownSeq = seqOf(init.store.vector(), init.nodeId)
  }

  /** The latest stamp issued or seen. */
  get clock (): Stamp {
    return this.hlc.peek()
  }

  /** Stamps and applies local changes in one transaction; returns the ops to publish. */
  write (changes: Change[]): Op[] {
    const first = this.ownSeq + 1
    const ops: Op[] = changes.map((change, i) => ({ key: change.key, value: change.value, ...this.hlc.now(), origin: this.nodeId, seq: first + i }))
    if (this.sign != null) proveOps(ops, this.sign)
    this.store.apply(ops)
    // Only after the commit: a failed write must not leave a gap in this node's seqs.
    this.ownSeq += ops.length
    return ops
  }

  /** Applies ops from peers; returns those that changed a key. */
  merge (ops: Op[]): Op[] {
    if (ops.length === 0) return []
    this.hlc.update(ops.reduce((max, op) => compareStamps(op, max) > 0 ? op : max))
    const applied = this.store.apply(ops)
    // Peers may hold ops this node wrote before it lost its database; never reuse their seqs.
    for (const op of ops) if (op.origin === this.nodeId && op.seq > this.ownSeq) this.ownSeq = op.seq
    return applied
  }

  /** See `Store.mergeVector`. Also raises this node's own seq past what peers have seen from it. */
  mergeVector (theirs: VersionVector): void {
    this.store.mergeVector(theirs)
    this.ownSeq = Math.max(this.ownSeq, seqOf(this.store.vector(), this.nodeId))
  }

  get (key: string): Op | undefined {
    return this.store.get(key)
  }

  list (options?: ListOptions): Op[] {
    return this.store.list(options)
  }

  vector (): VersionVector {
    return this.store.vector()
  }

  missing (theirs: VersionVector, options: MissingOptions): MissingPage {
    return this.store.missing(theirs, options)
  }

  gcVector (): VersionVector {
    return this.store.gcVector()
  }

  counts (): StoreCounts {
    return this.store.counts()
  }
}
