/**
 * Remote ops stamped too far ahead of this node's clock wait here instead of
 * being applied: applying them would drag every replica's hybrid logical
 * clock into the future, letting one node with a fast clock win every
 * conflict. They are applied once our clock comes within the skew bound.
 *
 * Held ops are never counted in the version vector, so if this node restarts
 * and forgets them, the next sync brings them again.
 */
import type { Op } from '@murmur/core'

export interface HeldOpsInit {
  /** Ops stamped up to this far ahead are applied at once. */
  maxSkewMs: number
  /** Ops stamped further ahead than this are rejected outright. */
  maxHoldMs: number
  /** Most ops held at once; beyond it, new far-future ops are rejected. */
  capacity: number
}

export type Triage = { ready: Op[], held: Op[], rejected: Op[] }

export class HeldOps {
  private readonly init: HeldOpsInit
  private readonly ops = new Map<string, Op>()

  constructor (init: HeldOpsInit) {
    this.init = init
  }

  get size (): number {
    return this.ops.size
  }

  /** Splits incoming ops by how far ahead of `now` they are stamped; holds the middle group. */
  triage (ops: Op[], now: number): Triage {
    const result: Triage = { ready: [], held: [], rejected: [] }
    for (const op of ops) {
      if (op.wall <= now + this.init.maxSkewMs) result.ready.push(op)
      else if (op.wall > now + this.init.maxHoldMs || this.ops.size >= this.init.capacity) result.rejected.push(op)
      else {
        this.ops.set(`${op.origin}\n${op.seq}`, op)
        result.held.push(op)
      }
    }
    return result
  }

  /** Removes and returns the held ops that are now within the bound. */
  release (now: number): Op[] {
    const ready: Op[] = []
    for (const [id, op] of this.ops) {
      if (op.wall <= now + this.init.maxSkewMs) {
        ready.push(op)
        this.ops.delete(id)
      }
    }
    return ready
  }
}
