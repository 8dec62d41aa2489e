/**
 * The fsync of ops from peers. Remote ops are committed without waiting for
 * the disk, and nobody waits for their fsync, so one fsync at a time covers
 * everything committed before it, off the event loop, and it starts
 * `REMOTE_SYNC_DELAY_MS` after the first op it covers: a stream of gossiped
 * ops costs one fsync per delay, not one per op, and a node stops
 * lengthening the fsyncs its own writers wait for (a disk serves one flush
 * at a time). Ops are served before their fsync either way; what this node
 * attests to, it attests in a write of its own, fsynced first.
 */
import type { SqliteStore } from '@murmur/core'
import type { Logger } from 'pino'

/** How long the fsync of ops from peers waits for more to cover. */
export const REMOTE_SYNC_DELAY_MS = 25

export class RemoteSync {
  private flushing?: Promise<void>
  private again = false
  private timer?: NodeJS.Timeout

  /** `store`: the store to sync, while the node runs. */
  constructor (private readonly store: () => SqliteStore | undefined, private readonly log: Logger) {}

  /** Remote ops were committed: on disk soon. */
  soon (): void {
    if (this.flushing !== undefined) {
      this.again = true
      return
    }
    const store = this.store()
    // after a failed fsync none can succeed until a restart (core's WalFile): the failure was logged, writes are refused
    if (store == null || store.wal?.failure !== undefined) return
    this.again = false
    this.flushing = new Promise<void>(resolve => { this.timer = setTimeout(resolve, REMOTE_SYNC_DELAY_MS) })
      .then(async () => { if (this.store() === store) await store.sync() })
      .catch((err: Error) => { this.log.warn({ err: err.message }, 'fsync after applying remote ops failed') })
      .finally(() => {
        this.flushing = undefined
        if (this.again) this.soon()
      })
  }

  /** The node stops: a flush whose timer is cleared never settles, and the next start begins afresh. */
  stop (): void {
    clearTimeout(this.timer)
    this.flushing = undefined
    this.again = false
  }
}
