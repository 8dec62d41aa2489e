/**
 * When each node comes to hold each write: a user op becomes its row, from
 * gossip, from a pull, or (for its writer) on being written. Keys are never
 * reused within a phase, so each (write, node) pair is counted once.
 */
import type { Op } from '@murmur/core'
import type { Fleet } from './fleet.js'

interface Write { at: number, held: number, t99?: number, t100?: number }

export class Tracker {
  private writes = new Map<string, Write>()
  private delays: number[] = []
  private completeAt = 0

  constructor (private readonly fleet: Fleet) {
    fleet.onHold = (_node, op) => { this.hold(op) }
  }

  expect (key: string, at: number): void {
    this.writes.set(key, { at, held: 0 })
  }

  reset (): void {
    this.writes = new Map()
    this.delays = []
    this.completeAt = 0
  }

  allEverywhere (): boolean {
    for (const w of this.writes.values()) if (w.t100 === undefined) return false
    return true
  }

  /** When the last write to reach every node did. */
  lastComplete (): number {
    return this.completeAt
  }

  summary (): { t99: { p50: number, p99: number }, t100: { p50: number, p99: number }, delivery: { p50: number, p99: number }, complete: number } {
    const all = [...this.writes.values()]
    const t99 = all.map(w => w.t99 ?? Infinity)
    const t100 = all.map(w => w.t100 ?? Infinity)
    return {
      t99: quantiles(t99),
      t100: quantiles(t100),
      delivery: quantiles(this.delays),
      complete: all.filter(w => w.t100 !== undefined).length / Math.max(1, all.length)
    }
  }

  private hold (op: Op): void {
    const w = this.writes.get(op.key)
    if (w === undefined) return
    const n = this.fleet.nodes.length
    const now = this.fleet.sched.now
    w.held++
    if (w.held > 1) this.delays.push(now - w.at) // the writer's own copy is not a delivery
    if (w.t99 === undefined && w.held >= Math.ceil(0.99 * n)) w.t99 = now - w.at
    if (w.t100 === undefined && w.held >= n) {
      w.t100 = now - w.at
      this.completeAt = Math.max(this.completeAt, now)
    }
  }
}

/** p50 and p99 (nearest rank) of `values`; Infinity stands for "never". */
export function quantiles (values: number[]): { p50: number, p99: number } {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN
  return { p50: Math.round(at(0.5)), p99: Math.round(at(0.99)) }
}
