/** `PastStore` in memory (for `MemoryStore`): the rule's ranges as `replica/conflicts.ts` states them. */
import { compareVersions } from '../compare.js'
import { concurrent, newerSeen } from '../replica/conflicts.js'
import type { Op, PastStore, PastVersion, Seen, Trimmed, Version } from '../types.js'

interface Entry { op: Op, digest: Uint8Array, conflict?: number }

export interface MemoryPastComponents {
  /** The key's current row. */
  row: (key: string) => Op | undefined
  /** Registers an undo step with the current transaction. */
  record: (undo: () => void) => void
  /** The next change cursor (undone with the transaction). */
  claim: () => number
}

export class MemoryPast implements PastStore {
  private readonly keys = new Map<string, Entry[]>()
  /** Per key, the newest past version the bound trimmed: nothing at or below it is kept again. */
  private readonly floors = new Map<string, Op>()
  private readonly components: MemoryPastComponents

  constructor (components: MemoryPastComponents) {
    this.components = components
  }

  keepRow (key: string): void {
    const row = this.components.row(key)
    if (row !== undefined) this.keep(row, new Uint8Array(0))
  }

  keepCurrent (row: Op, conflict: boolean): PastVersion | undefined {
    const current = this.components.row(row.key)
    return current === undefined ? undefined : this.keep(current, new Uint8Array(0), conflict)
  }

  /** Whether `key` has no past versions and none trimmed (`RowHead.pastless`). */
  pastless (key: string): boolean {
    return !this.keys.has(key) && !this.floors.has(key)
  }

  withPast (keys: string[]): Set<string> {
    return new Set(keys.filter(key => !this.pastless(key)))
  }

  keep (op: Op, digest: Uint8Array, conflict = false): PastVersion | undefined {
    // a refresh is never a past version (`Op.refresh`)
    if (op.refresh === true) return undefined
    const floor = this.floors.get(op.key)
    if (floor !== undefined && compareVersions(op, floor) <= 0) return undefined
    const entries = this.of(op.key)
    if (entries.some(e => compareVersions(e.op, op) === 0 && Buffer.compare(e.digest, digest) === 0)) return undefined
    const { proof, ...plain } = op
    const entry: Entry = { op: { ...plain, value: op.value === null ? null : Buffer.from(op.value) }, digest: Buffer.from(digest) }
    if (conflict) entry.conflict = this.components.claim()
    this.change(op.key, [...entries, entry])
    return conflict ? pastOf(entry) : undefined
  }

  newest (keys: string[], rows?: ReadonlyMap<string, Seen & { pastless?: boolean }>): Map<string, Seen> {
    const found = new Map<string, Seen>()
    const seenOf = (v: Seen | undefined): Seen | undefined => v === undefined ? undefined : { wall: v.wall, logical: v.logical, origin: v.origin }
    for (const key of keys) {
      const seen = newerSeen(seenOf(rows !== undefined ? rows.get(key) : this.components.row(key)), seenOf(this.sorted(key)[0]?.op))
      if (seen !== undefined) found.set(key, seen)
    }
    return found
  }

  markBetween (key: string, seen: Seen, winner: Version): PastVersion[] {
    const due = this.of(key).filter(e => e.conflict === undefined && concurrent(e.op, { ...winner, seen }))
    return due.map(e => this.markEntry(key, e))
  }

  unseenByNewer (op: Version & { key: string }): boolean {
    return this.of(op.key).some(e => concurrent(op, e.op))
  }

  mark (op: Op): PastVersion | undefined {
    const entry = this.of(op.key).find(e => e.conflict === undefined && compareVersions(e.op, op) === 0)
    return entry === undefined ? undefined : this.markEntry(op.key, entry)
  }

  trim (key: string, versions: number, bytes: number): Trimmed[] {
    let total = 0
    const sorted = this.sorted(key)
    const kept = sorted.filter((e, i) => (total += e.op.value?.length ?? 0) <= bytes && i < versions)
    if (kept.length === sorted.length) return []
    this.change(key, kept)
    const newest = sorted[kept.length]?.op as Op
    const before = this.floors.get(key)
    if (before === undefined || compareVersions(newest, before) > 0) this.floors.set(key, newest)
    this.components.record(() => { if (before === undefined) this.floors.delete(key); else this.floors.set(key, before) })
    return sorted.filter(e => !kept.includes(e)).map(e => ({ ...e.op, digest: e.digest }))
  }

  list (key: string, limit: number): PastVersion[] {
    return this.sorted(key).slice(0, limit).map(pastOf)
  }

  conflictsAfter (after: number, limit: number): PastVersion[] {
    return [...this.keys.values()].flat().filter(e => (e.conflict ?? 0) > after).sort((a, b) => (a.conflict ?? 0) - (b.conflict ?? 0)).slice(0, limit).map(pastOf)
  }

  conflicts (): number {
    return [...this.keys.values()].flat().filter(e => e.conflict !== undefined).length
  }

  private markEntry (key: string, entry: Entry): PastVersion {
    const marked = { ...entry, conflict: this.components.claim() }
    this.change(key, this.of(key).map(e => e === entry ? marked : e))
    return pastOf(marked)
  }

  private of (key: string): Entry[] {
    return this.keys.get(key) ?? []
  }

  private sorted (key: string): Entry[] {
    return [...this.of(key)].sort((a, b) => compareVersions(b.op, a.op) || Buffer.compare(b.digest, a.digest))
  }

  private change (key: string, entries: Entry[]): void {
    const before = this.keys.get(key)
    if (entries.length === 0) this.keys.delete(key)
    else this.keys.set(key, entries)
    this.components.record(() => { if (before === undefined) this.keys.delete(key); else this.keys.set(key, before) })
  }
}

function pastOf (entry: Entry): PastVersion {
  return entry.conflict === undefined ? { op: structuredClone(entry.op) } : { op: structuredClone(entry.op), conflict: entry.conflict }
}


