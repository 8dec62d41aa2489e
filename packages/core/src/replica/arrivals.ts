/**
 * The ops of one receive (inbound.ts), kept by origin and seq beside those
 * already waiting in the pending buffer, until each applies, is refused or is
 * left waiting (`park`) with the witnesses of its key that came with it.
 */
import { digestOf, sameBytes } from '../marks.js'
import type { Witness } from './inbound.js'
import type { ReplicaState } from './state.js'
import type { Op } from '../types.js'

/** The ops of one receive, seen together with those already waiting. */
export class Arrivals {
  private readonly state: ReplicaState
  private readonly fresh = new Map<string, Map<number, Array<{ op: Op, digest: Uint8Array }>>>()
  readonly origins: Set<string>

  constructor (state: ReplicaState, origins: Iterable<string> = []) {
    this.state = state
    this.origins = new Set(origins)
  }

  add (op: Op, digest: Uint8Array): boolean {
    let seqs = this.fresh.get(op.origin)
    const versions = seqs?.get(op.seq)
    if (versions?.some(v => sameBytes(v.digest, digest)) === true) return false
    if (seqs === undefined) this.fresh.set(op.origin, (seqs = new Map()))
    if (versions === undefined) seqs.set(op.seq, [{ op, digest }])
    else versions.push({ op, digest })
    this.origins.add(op.origin)
    return true
  }

  at (origin: string, seq: number): Op[] {
    const fresh = this.fresh.get(origin)?.get(seq)?.map(v => v.op) ?? []
    return this.state.pending.has(origin) ? [...this.state.pending.at(origin, seq), ...fresh] : fresh
  }

  has (origin: string): boolean {
    return this.state.pending.has(origin) || (this.fresh.get(origin)?.size ?? 0) > 0
  }

  /** The seqs of `origin` in `(after, upTo]` that have ops here, lowest first (not every seq between: the range may be long). */
  seqsIn (origin: string, after: number, upTo: number): number[] {
    const seqs = new Set<number>()
    for (const seq of this.fresh.get(origin)?.keys() ?? []) if (seq > after && seq <= upTo) seqs.add(seq)
    for (const seq of this.state.pending.seqsIn(origin, after, upTo)) seqs.add(seq)
    return [...seqs].sort((a, b) => a - b)
  }

  /** Takes `op` out (it applies, or is refused). */
  remove (op: Op): void {
    const digest = digestOf(op)
    this.state.pending.remove(op.origin, op.seq, digest)
    const seqs = this.fresh.get(op.origin)
    const kept = seqs?.get(op.seq)?.filter(v => !sameBytes(v.digest, digest)) ?? []
    if (kept.length > 0) seqs?.set(op.seq, kept)
    else seqs?.delete(op.seq)
  }

  /**
   * Leaves the fresh ops that did not apply waiting, each with the witnesses
   * of its key that came with it, and one stamped past the skew bound to be
   * looked at again when the clock reaches it; returns those that did not fit.
   */
  park (witnesses?: ReadonlyMap<string, Witness[]>): Op[] {
    const dropped: Op[] = []
    const skew = this.state.config.maxClockSkewMs
    const now = this.fresh.size > 0 ? this.state.now() : 0
    for (const seqs of this.fresh.values()) {
      for (const versions of seqs.values()) {
        for (const { op, digest } of versions) {
          const wakeAt = op.wall > now + skew ? op.wall - skew : undefined
          if (!this.state.pending.add(op, digest, { ...(witnesses?.has(op.key) === true ? { witnesses: witnesses.get(op.key) } : {}), ...(wakeAt !== undefined ? { wakeAt } : {}) })) dropped.push(op)
        }
      }
    }
    return dropped
  }
}
