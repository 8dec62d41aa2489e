/**
 * This replica's change cursors: every change of a user key's row (a put, or
 * a live row removed) gets the next number, in commit order, kept with the
 * key so a watcher can ask for what changed after the cursor it last saw.
 * Only a key's latest change is kept; a row that goes (a collected tombstone,
 * a row a snapshot removed) takes its entry with it and lifts the floor, and
 * a watcher behind the floor must start from the current state. Numbers are
 * local: never replicated, never compared across nodes.
 */
import { isReserved } from '../keys.js'
import type { ChangeMarks, Op } from '../types.js'

/** Where a store keeps each key's latest cursor. */
export interface CursorEntries {
  /** Keeps `cursor` as the key's (a store that writes it with the key's row, as `put` returns it, does nothing here). */
  set: (key: string, cursor: number) => void
  /** Forgets the key's entry (called before its row goes); its cursor, if it had one. */
  delete: (key: string) => number | undefined
}

/** How far `restart` moves the numbering: more changes than any database takes (2^53 allows 8,192 restarts). */
export const RESTART_GAP = 2 ** 40

export class ChangeCursors {
  /** The latest cursor given, and the floor (see `ChangeMarks`): numbers, so numbering a change allocates nothing. */
  private latest: number
  private floor: number
  /** The cursor each op written in this process got, for the change events that follow the commit. */
  private readonly ofOp = new WeakMap<Op, number>()
  /** The cursor of the latest removal of each key, for its delete event (an op no longer exists). */
  private readonly removals = new Map<string, number>()

  /** The marks as last saved. */
  private saved: ChangeMarks
  /** Who hears of every change under a prefix (see `watch`). */
  private readonly watchers: Array<{ prefix: string, changed: () => void }> = []

  constructor (private readonly entries: CursorEntries, marks: ChangeMarks) {
    this.latest = marks.latest
    this.floor = marks.floor
    this.saved = marks
  }

  get marks (): ChangeMarks {
    return { latest: this.latest, floor: this.floor }
  }

  /** A function that puts the marks back as they are now (for a transaction that rolls back). */
  checkpoint (): () => void {
    const { latest, floor, saved } = this
    return () => {
      this.latest = latest
      this.floor = floor
      this.saved = saved
    }
  }

  /** The marks for a committing transaction to write (`change_cursor` with its other meta, `change_floor` only when it moved). */
  save (): { latest: number, floor?: number } {
    const floor = this.floor !== this.saved.floor ? this.floor : undefined
    this.saved = this.marks
    return floor === undefined ? { latest: this.latest } : { latest: this.latest, floor }
  }

  /**
   * Calls `changed` whenever a user key under `prefix` changes (a put, or its
   * row removed), at the mutation, whether or not its transaction commits:
   * for a cache of those keys, which then reads them again. Returns a
   * function that stops it.
   */
  watch (prefix: string, changed: () => void): () => void {
    const watcher = { prefix, changed }
    this.watchers.push(watcher)
    return () => {
      const at = this.watchers.indexOf(watcher)
      if (at !== -1) this.watchers.splice(at, 1)
    }
  }

  /** Numbers `op`'s change (it became its key's row); its cursor, none for a reserved key (murmur's own records are never numbered). */
  put (op: Op): number | undefined {
    if (isReserved(op.key)) return undefined
    this.tell(op.key)
    const cursor = this.next()
    this.entries.set(op.key, cursor)
    this.ofOp.set(op, cursor)
    return cursor
  }

  /**
   * The row of `key` goes. `replaced`: the op that beat it becomes the key's
   * row in the same transaction (`Store.remove`), and its `put` is the
   * change: the key stays, so a watcher behind loses nothing a replay would
   * not show, and the floor stays where it is (raising it there sent every
   * resuming watcher to a snapshot once collection had passed a key's row).
   */
  remove (key: string, live: boolean, replaced = false): void {
    if (isReserved(key)) return
    this.tell(key)
    if (replaced) return // the put that follows sets the key's entry
    const had = this.entries.delete(key)
    // a live row removed is a change (a delete); a tombstone removed changes nothing visible
    const floor = live ? this.next() : had ?? 0
    if (live) {
      this.removals.delete(key) // kept in insertion order: the oldest go first
      this.removals.set(key, floor)
      if (this.removals.size > 10_000) this.removals.delete(this.removals.keys().next().value as string)
    }
    this.floor = Math.max(this.floor, floor)
  }

  /**
   * Numbers every later change far above every cursor given so far, and
   * below that nothing can be replayed: for a database restored from a copy,
   * where the original went on numbering its own changes after the copy was
   * taken, so the cursors a watcher of it holds mean nothing here.
   */
  restart (): void {
    this.latest += RESTART_GAP
    this.floor = this.latest
  }

  /** The cursor `op`'s change got when it became its key's row (or, for a removal, the key's latest removal). */
  cursorOf (op: Op): number | undefined {
    return this.ofOp.get(op) ?? (op.value === null ? this.removals.get(op.key) : undefined)
  }

  /** A cursor for a change that is not a key's row (a conflict found): the key's entry stays as it is. */
  claim (): number {
    return this.next()
  }

  private tell (key: string): void {
    for (const { prefix, changed } of this.watchers) if (key.startsWith(prefix)) changed()
  }

  private next (): number {
    return ++this.latest
  }
}
