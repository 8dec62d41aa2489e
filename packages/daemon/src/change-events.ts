/**
 * A node's change events, told to its listeners in cursor order (see
 * `ChangeOrder` for this node's own writes against a peer's): a watcher that
 * resumes from the last cursor it saw misses none.
 */
import type { Op, PastVersion, Replica, SqliteStore } from '@murmur/core'
import { ChangeOrder } from './change-order.js'
import { changeEventOf, peerEvents, type ChangeEvent } from './entry.js'

export class ChangeEvents {
  private order = new ChangeOrder()

  constructor (private readonly emit: (event: ChangeEvent) => void, private readonly parts: () => { store: SqliteStore, replica: Replica } | undefined) {}

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
    const emit = (): void => { this.emit(changeEventOf(op, source, cursor, parts?.replica.sweptExpiry(op))) }
    if (source === 'local') this.order.own(cursor, emit)
    else this.order.peer(cursor, emit)
  }

  /** Keys a peer's ops changed and the conflicts they made, interleaved by cursor. */
  peerChanged (changed: Op[], conflicts: PastVersion[], source: string): void {
    const parts = this.parts()
    if (parts === undefined) return
    for (const { cursor, event } of peerEvents(changed, conflicts, source, op => parts.store.cursorOf(op), op => parts.replica.sweptExpiry(op))) {
      this.order.peer(cursor, () => { this.emit(event()) })
    }
  }
}
