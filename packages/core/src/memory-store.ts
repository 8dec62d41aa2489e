/**
 * A `Store` in memory, with the same semantics as `SqliteStore`. For tests and
 * for nodes that keep nothing on disk. `list` and `missing` scan every key, so
 * their cost grows with the store, not with the answer. Returned ops are the
 * store's own objects: do not modify them.
 */
import { compareStamps, compareUtf8, isNewer } from './compare.js'
import { missingPage, seqOf } from './vector.js'
import type { CollectOptions, ListOptions, MissingOptions, MissingPage, Op, Stamp, Store, StoreCounts, VersionVector } from './types.js'

export class MemoryStore implements Store {
  private readonly ops = new Map<string, Op>()
  private readonly contiguous = new Map<string, number>()
  private readonly ahead = new Map<string, Set<number>>()
  private readonly collected = new Map<string, number>()
  private latest: Stamp = { wall: 0, logical: 0 }

  get (key: string): Op | undefined {
    return this.ops.get(key)
  }

  list (options: ListOptions = {}): Op[] {
    const { prefix = '', after, limit = Infinity } = options
    return [...this.ops.values()]
      .filter(op => op.value !== null && op.key.startsWith(prefix) && (after === undefined || compareUtf8(op.key, after) > 0))
      .sort((a, b) => compareUtf8(a.key, b.key))
      .slice(0, limit)
  }

  apply (ops: Op[]): Op[] {
    const changed: Op[] = []
    for (const op of ops) {
      const current = this.ops.get(op.key)
      if (current === undefined || isNewer(op, current)) {
        // A copy, as SQLite would store, so later changes to the caller's buffer do not reach the store.
        this.ops.set(op.key, { ...op, value: op.value === null ? null : Buffer.from(op.value) })
        changed.push(op)
      }
      this.record(op.origin, op.seq)
      if (compareStamps(op, this.latest) > 0) this.latest = { wall: op.wall, logical: op.logical }
    }
    return changed
  }

  vector (): VersionVector {
    return Object.fromEntries(this.contiguous)
  }

  mergeVector (theirs: VersionVector): void {
    for (const [origin, seq] of Object.entries(theirs)) {
      if (seq > (this.contiguous.get(origin) ?? 0)) this.advance(origin, seq)
    }
  }

  missing (theirs: VersionVector, options: MissingOptions): MissingPage {
    const { limit, cursor } = options
    const notBefore = (op: Op): boolean => cursor === undefined || compareUtf8(op.origin, cursor.origin) >= 0
    const floor = (op: Op): number => Math.max(seqOf(theirs, op.origin), op.origin === cursor?.origin ? cursor.seq : 0)
    const ops = [...this.ops.values()]
      .filter(op => notBefore(op) && op.seq > floor(op))
      .sort((a, b) => compareUtf8(a.origin, b.origin) || a.seq - b.seq)
      .slice(0, limit)
    return missingPage(ops, limit)
  }

  gcVector (): VersionVector {
    return Object.fromEntries(this.collected)
  }

  mergeGcVector (theirs: VersionVector): void {
    for (const [origin, seq] of Object.entries(theirs)) this.collected.set(origin, Math.max(seq, this.collected.get(origin) ?? 0))
  }

  collectTombstones (options: CollectOptions): number {
    let removed = 0
    for (const op of [...this.ops.values()]) {
      if (op.value !== null) continue
      const stable = op.wall < options.stableBefore && op.seq <= seqOf(options.stable, op.origin)
      if (!stable && op.wall >= options.anyBefore) continue
      this.ops.delete(op.key)
      this.mergeGcVector({ [op.origin]: op.seq })
      removed++
    }
    return removed
  }

  pruneAbsent (present: Set<string>, covered: VersionVector): Op[] {
    const removed = [...this.ops.values()].filter(op => !present.has(op.key) && op.seq <= seqOf(covered, op.origin))
    for (const op of removed) this.ops.delete(op.key)
    return removed
  }

  clock (): Stamp {
    return { ...this.latest }
  }

  counts (): StoreCounts {
    let tombstones = 0
    for (const op of this.ops.values()) if (op.value === null) tombstones++
    return { keys: this.ops.size - tombstones, tombstones }
  }

  /** Nothing to release; present to satisfy `Store`. */
  close (): void {}

  private record (origin: string, seq: number): void {
    const contiguous = this.contiguous.get(origin) ?? 0
    if (seq === contiguous + 1) this.advance(origin, seq)
    else if (seq > contiguous) this.aheadOf(origin).add(seq)
  }

  /** Sets the contiguous entry to `seq`, then carries it through any seqs already received beyond it. */
  private advance (origin: string, seq: number): void {
    const ahead = this.aheadOf(origin)
    while (ahead.has(seq + 1)) seq++
    for (const held of ahead) if (held <= seq) ahead.delete(held)
    if (ahead.size === 0) this.ahead.delete(origin)
    this.contiguous.set(origin, seq)
  }

  private aheadOf (origin: string): Set<number> {
    let seqs = this.ahead.get(origin)
    if (seqs === undefined) this.ahead.set(origin, (seqs = new Set()))
    return seqs
  }
}
