/**
 * A `Store` in memory, with the same semantics as `SqliteStore`: for tests,
 * and for nodes that keep nothing on disk. Reads by origin and listings scan
 * every row, so their cost grows with the store, not with the answer.
 * A transaction that throws is rolled back through an undo log.
 */
import { compareStamps, compareUtf8, headOf } from '../compare.js'
import { isReserved, USER_KEYS_FROM } from '../keys.js'
import { opDigest } from '../proof.js'
import { ChangeCursors } from './change-cursors.js'
import { MemoryPast } from './memory-past.js'
import { proveInMemory, type Versioned } from './memory-proofs.js'
import { takePage } from './pages.js'
import type { ChangeMarks, ChangeRecord, Head, HeldOp, Op, OriginState, RowHead, RowOptions, Stamp, Store, StoreCounts } from '../types.js'

export class MemoryStore implements Store {
  readonly past: MemoryPast = new MemoryPast({
    row: key => this.current.get(key),
    record: undo => { this.record(undo) },
    claim: () => {
      let cursor = 0
      this.changed(() => { cursor = this.cursors.claim() })
      return cursor
    }
  })
  private readonly current = new Map<string, Op>()
  /** Key → the digest `put` was given for its row, as `kv_store.digest` keeps it (left for a key removed since, until it is put again). */
  private readonly digests = new Map<string, Uint8Array>()
  /** origin → ops that lost, with their digests. */
  private readonly history = new Map<string, Versioned[]>()
  private readonly vector = new Map<string, OriginState>()
  private readonly values = new Map<string, string>()
  private readonly staging = new Map<string, Op>()
  private latest: Stamp = { wall: 0, logical: 0 }
  private undo?: Array<() => void>
  /** Key → the cursor of its latest change. */
  private readonly changeEntries = new Map<string, number>()
  private readonly cursors = new ChangeCursors({
    set: (key, cursor) => { this.setEntry(key, cursor) },
    delete: key => {
      const had = this.changeEntries.get(key)
      this.setEntry(key, undefined)
      return had
    }
  }, { latest: 0, floor: 0 })

  transaction<T> (fn: () => T): T {
    if (this.undo !== undefined) return fn()
    this.undo = []
    try {
      const result = fn()
      this.undo = undefined
      return result
    } catch (err) {
      const undo = this.undo ?? []
      this.undo = undefined
      for (const step of undo.reverse()) step()
      throw err
    }
  }

  row (key: string): Op | undefined {
    return this.current.get(key)
  }

  rows (options: RowOptions = {}): Op[] {
    const { prefix = '', after, limit = Infinity } = options
    return [...this.current.values()]
      .filter(op => (options.tombstones === true || (op.value !== null && !(op.expires !== undefined && options.liveAt !== undefined && op.expires <= options.liveAt))) && op.key.startsWith(prefix) &&
        (options.reserved === true || compareUtf8(op.key, USER_KEYS_FROM) >= 0) &&
        (after === undefined || compareUtf8(op.key, after) > 0))
      .sort((a, b) => compareUtf8(a.key, b.key))
      .slice(0, limit < 0 ? Infinity : limit)
  }

  put (op: Op, digest: Uint8Array): void {
    // a copy, as SQLite would store, so later changes to the caller's buffer do not reach the store
    this.assign(this.current, op.key, { ...op, value: op.value === null ? null : Buffer.from(op.value) })
    this.assign(this.digests, op.key, Buffer.from(digest))
    this.see(op)
    this.changed(() => { this.cursors.put(op) })
  }

  /** The digest kept with the row of `op.key` (the row is `op`). */
  private digestOfRow (op: Op): Uint8Array {
    return this.digests.get(op.key) ?? opDigest(op)
  }

  supersede (head: Head): void {
    const row = this.current.get(head.key)
    if (row === undefined) return
    this.current.delete(head.key)
    this.record(() => { this.current.set(head.key, row) })
    this.addHistory(row, this.digestOfRow(row))
  }

  addHistory (op: Op, digest: Uint8Array): void {
    let list = this.history.get(op.origin)
    if (list === undefined) this.history.set(op.origin, (list = []))
    if (list.some(v => v.op.seq === op.seq && Buffer.compare(v.digest, digest) === 0)) return
    const entry = { op: { ...op, value: op.value === null ? null : Buffer.from(op.value) }, digest: Buffer.from(digest) }
    list.push(entry)
    this.see(op)
    const owner = list
    this.record(() => { owner.splice(owner.indexOf(entry), 1) })
  }

  remove (row: Head, replaced = false): void {
    this.assign(this.current, row.key, undefined)
    this.changed(() => { this.cursors.remove(row.key, row.live, replaced) })
  }

  changes (after: number, limit: number): ChangeRecord[] {
    return [...this.changeEntries]
      .filter(([key, cursor]) => cursor > after && this.current.has(key))
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([key, cursor]) => ({ cursor, op: this.current.get(key) as Op }))
  }

  changeMarks (): ChangeMarks {
    return this.cursors.marks
  }

  cursorOf (op: Op): number | undefined {
    return this.cursors.cursorOf(op)
  }

  watch (prefix: string, changed: () => void): () => void {
    return this.cursors.watch(prefix, changed)
  }

  /** Runs a change of the cursors, undone with the transaction. */
  private changed (fn: () => void): void {
    const undo = this.cursors.checkpoint()
    fn()
    this.record(undo)
  }

  private setEntry (key: string, cursor: number | undefined): void {
    this.assign(this.changeEntries, key, cursor)
  }

  prove (ops: Op[]): void {
    proveInMemory({ current: this.current, history: this.history, assign: (key, op) => { this.assign(this.current, key, op) }, record: undo => { this.record(undo) } }, ops)
  }

  signedUpTo (origin: string): number {
    return this.held(origin).reduce((top, op) => op.proof != null ? Math.max(top, op.seq) : top, 0)
  }

  opsOf (origin: string, after: number, limit: number, maxBytes?: number): HeldOp[] {
    return takePage(this.held(origin).filter(op => op.seq > after), limit, maxBytes)
  }

  digestsAt (origin: string, seq: number): Uint8Array[] {
    return this.digestsIn(origin, seq - 1, seq)
  }

  digestsIn (origin: string, after: number, upTo: number): Uint8Array[] {
    const inRange = (op: Op): boolean => op.origin === origin && op.seq > after && op.seq <= upTo
    return [
      ...[...this.current.values()].filter(inRange).map(op => this.digestOfRow(op)),
      ...(this.history.get(origin) ?? []).filter(v => inRange(v.op)).map(v => v.digest)
    ]
  }

  stampAt (origin: string, seq: number): Stamp | undefined {
    const at = this.held(origin).filter(op => op.seq === seq).sort(compareStamps)[0]
    return at === undefined ? undefined : { wall: at.wall, logical: at.logical }
  }

  rowsAt (keys: string[]): Map<string, RowHead> {
    const out = new Map<string, RowHead>()
    for (const key of keys) {
      const row = this.row(key)
      if (row !== undefined) {
        const { proof, expires, ...asPast } = row
        out.set(key, { ...headOf(row), pastless: this.past.pastless(key), bytes: row.value?.length ?? 0, asPast })
      }
    }
    return out
  }

  supersededOf (origin: string, key: string, limit: number): Op[] {
    return (this.history.get(origin) ?? []).filter(v => v.op.key === key).map(v => structuredClone(v.op)).sort((a, b) => b.seq - a.seq).slice(0, limit)
  }

  dropHistory (origin: string, upTo: number): number {
    const list = this.history.get(origin) ?? []
    const kept = list.filter(v => v.op.seq > upTo)
    this.history.set(origin, kept)
    this.record(() => { this.history.set(origin, list) })
    return list.length - kept.length
  }

  stage (ops: Op[]): void {
    for (const op of ops) this.staging.set(op.key, structuredClone(op))
  }

  staged (after: string | undefined, limit: number): Op[] {
    return [...this.staging.values()]
      .filter(op => after === undefined || compareUtf8(op.key, after) > 0)
      .sort((a, b) => compareUtf8(a.key, b.key))
      .slice(0, limit)
  }

  clearStaged (): void {
    const previous = new Map(this.staging)
    this.staging.clear()
    this.record(() => { for (const [key, op] of previous) this.staging.set(key, op) })
  }

  tombstones (origin: string, upTo: number, beforeWall: number, expiredBefore: number): Op[] {
    return [...this.current.values()].filter(op => op.origin === origin && op.seq <= upTo && ((op.value === null && op.wall < beforeWall) || (op.expires ?? Infinity) < expiredBefore))
  }

  expiring (after: number, upTo: number, limit: number): Op[] {
    return [...this.current.values()]
      .filter(op => op.value !== null && op.expires !== undefined && op.expires > after && op.expires <= upTo)
      .sort((a, b) => (a.expires as number) - (b.expires as number))
      .slice(0, limit < 0 ? Infinity : limit)
  }

  touch (op: Op): void {
    this.changed(() => { this.cursors.put(op) })
  }

  origins (): Map<string, OriginState> {
    return new Map([...this.vector].map(([origin, state]) => [origin, structuredClone(state)]))
  }

  setOrigin (origin: string, state: OriginState): void {
    this.assign(this.vector, origin, structuredClone(state))
  }

  clock (): Stamp {
    return { ...this.latest }
  }

  setClock (stamp: Stamp): void {
    this.see(stamp)
  }

  meta (name: string): string | undefined {
    return this.values.get(name)
  }

  setMeta (name: string, value: string): void {
    this.assign(this.values, name, value)
  }

  counts (): StoreCounts {
    let keys = 0
    let tombstones = 0
    for (const op of this.current.values()) {
      if (isReserved(op.key)) continue
      if (op.value === null) tombstones++
      else keys++
    }
    return { keys, tombstones }
  }

  async sync (): Promise<void> {}

  syncNow (): void {}

  /** Nothing to release; present to satisfy `Store`. */
  close (): void {}

  /** Rows and history of `origin`, in seq order. */
  private held (origin: string): HeldOp[] {
    return [...[...this.current.values()].filter(op => op.origin === origin), ...(this.history.get(origin) ?? []).map(v => ({ ...v.op, superseded: true }))]
      .sort((a, b) => a.seq - b.seq)
  }

  private see (stamp: Stamp): void {
    if (compareStamps(stamp, this.latest) <= 0) return
    const before = this.latest
    this.latest = { wall: stamp.wall, logical: stamp.logical }
    this.record(() => { this.latest = before })
  }

  private record (step: () => void): void {
    this.undo?.push(step)
  }

  /** Sets `map`'s entry for `key` (deletes it for `undefined`), undone with the transaction. */
  private assign<K, V> (map: Map<K, V>, key: K, value: V | undefined): void {
    const previous = map.get(key)
    if (value === undefined) map.delete(key); else map.set(key, value)
    this.record(() => { if (previous === undefined) map.delete(key); else map.set(key, previous) })
  }
}
