/**
 * A node's change events, told to its listeners in cursor order (see
 * `ChangeOrder` for this node's own writes against a peer's): a watcher that
 * resumes from the last cursor it saw misses none. With no listener
 * (`listened` false: no `kv_subscribe` open, no library listener), no event
 * is built, only the order kept: a heal of 10,000 conflicting keys built
 * 15,000 events nobody read. A write that only refreshes a value (a
 * keepalive's) is told to nobody.
 */
import type { Op, PastVersion, Replica, SqliteStore } from '@murmur/core'
import { ChangeOrder } from './change-order.js'
import { changeEventOf, peerEvents, type ChangeEvent } from './entry.js'

export class ChangeEvents {
  private order = new ChangeOrder()

  constructor (
    private readonly emit: (event: ChangeEvent) => void,
    private readonly parts: () => { store: SqliteStore, replica: Replica } | undefined,
    private readonly listened: () => boolean = () => true
  ) {}

  /** A new start: nothing of an earlier run waits. */
  reset (): void {
    this.order = new ChangeOrder()
  }

  /** This node's own ops were committed (numbered) and wait for their fsync before they are told. */
  committed (ops: Op[]): void {
    this.order.committed(ops.flatMap(op => this.parts()?.store.cursorOf(op) ?? []))
  }

  /** Own ops committed that will never be told (their write failed after the commit). */
  lost (ops: Op[]): void {
    for (const op of ops) this.order.own(this.parts()?.store.cursorOf(op))
  }

  /** A key changed by this node (`source` 'local') or by its expiry ('expire'). */
  changed (op: Op, source: string): void {
    const parts = this.parts()
    const cursor = parts?.store.cursorOf(op)
    // whether anyone listens is asked when the event is due, so a listener added while it was held still hears it
    const emit = (): void => {
      if (!this.listened()) return
      const event = changeEventOf(op, source, cursor, parts?.replica.sweptExpiry(op))
      if (event.type !== 'put' || !this.refresh(op)) this.emit(event)
    }
    if (source === 'local') this.order.own(cursor, emit)
    else this.order.peer(cursor, emit)
  }

  /** Keys a peer's ops changed and the conflicts they made, interleaved by cursor. */
  peerChanged (changed: Op[], conflicts: PastVersion[], source: string): void {
    const parts = this.parts()
    // events of changes already made: a listener added later starts after them (or replays them by cursor)
    if (parts === undefined || !this.listened()) return
    const told = changed.filter(op => parts.replica.sweptExpiry(op) || !this.refresh(op))
    for (const { cursor, event } of peerEvents(told, conflicts, source, op => parts.store.cursorOf(op), op => parts.replica.sweptExpiry(op))) {
      this.order.peer(cursor, () => { this.emit(event()) })
    }
  }

  /**
   * Whether `op` only refreshes a value: a keepalive's refresh (`Op.refresh`,
   * signed by its origin) of the value and type its origin wrote in the
   * newest version of the key kept in history (refreshes never are). It
   * moves the expiry on every replica like any write, and its watchers hear
   * no `put`: presence keys would otherwise tell one every third of their
   * TTL. A refresh bit over another value (only a member that lies sets one)
   * is told, so no watcher misses a change; with no history kept, every
   * refresh is. So is a refresh of a version whose expiry the sweep passed
   * here (watchers heard it expire: the key comes back). That version
   * expired a TTL after its stamp, as a keepalive writes each version with
   * the same TTL: the refresh's `seen` and its own TTL tell when.
   */
  private refresh (op: Op): boolean {
    const parts = this.parts()
    if (op.refresh !== true || op.value == null || op.expires === undefined || op.seen === undefined || parts === undefined) return false
    if (parts.replica.sweptExpiry({ ...op, expires: op.seen.wall + (op.expires - op.wall) })) return false
    const newest = parts.store.past.list(op.key, 1)[0]?.op
    return newest?.value != null && newest.origin === op.origin && (newest.type ?? 'text') === (op.type ?? 'text') && Buffer.compare(newest.value, op.value) === 0
  }
}
