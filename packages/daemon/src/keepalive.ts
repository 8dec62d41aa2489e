/**
 * Keepalives: a put with `keepalive` is written again by this daemon every
 * third of its TTL while the daemon runs, each time with a new stamp and a
 * new expiry, so the key stays while its node is up and reachable and
 * vanishes within the TTL of the node stopping, crashing or being cut off.
 * That is presence and service registration without a server.
 *
 * A keepalive belongs to the node, not to the client that asked for it (as a
 * Consul session belongs to its agent): it is kept in the store's `meta` and
 * resumes when the daemon starts again, so a node that restarts shows up
 * again by itself: once it has caught up from a peer (or a third of the TTL
 * after the start, if none answers), so it never writes over a write another
 * node made while it was down. It stops when this node deletes the key or
 * puts it without `keepalive` (both drop it as they enter, so a refresh never
 * follows them),
 * and when the key is found written by another node: a refresh is committed
 * only while the row is still this node's own write (or is gone, collected,
 * and the newest version history keeps of it is this node's own), checked at
 * its commit.
 */
import type { Change, Op, Replica, ValueType } from '@murmur/core'
import type { Logger } from 'pino'
import type { Precondition } from './write-queue.js'
import { MAX_TIMER_MS } from './max-timer.js'

/** A refresh found the key written by another node since: the keepalive ends. */
export class KeepaliveLostError extends Error {
  static override name = 'KeepaliveLostError'
  override name = 'KeepaliveLostError'
}

interface Held {
  ttlMs: number
  /** The value, base64. */
  value: string
  type?: ValueType
}

export interface KeepalivesComponents {
  /** The running node's replica, taken at `start` and kept until `stop` (writes a stopping node drains still commit). */
  replica: () => Replica
  /** Commits changes as this node's own, refused at the commit if `check` says so. */
  submit: (changes: Change[], check: Precondition) => Promise<Op[]>
  log: Logger
}

const META = 'keepalives'

export class Keepalives {
  private readonly held = new Map<string, Held>()
  private readonly timers = new Map<string, NodeJS.Timeout>()
  /** Keys resumed at the start and not refreshed since: refreshed once this node has caught up. */
  private readonly resuming = new Set<string>()
  private running = false
  private replica?: Replica

  constructor (private readonly components: KeepalivesComponents) {}

  /**
   * Loads the keepalives kept in the store. Each is refreshed once this node
   * has caught up from a peer (`caughtUp`), or a third of its TTL after the
   * start if none answers first: a refresh right away would go by the rows
   * this node held when it stopped, and write over (never seeing it) a newer
   * write another node made meanwhile, one that ends the keepalive.
   */
  start (): void {
    this.running = true
    this.replica = this.components.replica()
    this.held.clear()
    this.resuming.clear()
    for (const [key, held] of JSON.parse(this.replica.store.meta(META) ?? '[]') as Array<[string, Held]>) {
      this.held.set(key, held)
      this.resuming.add(key)
      this.schedule(key, held.ttlMs / 3)
    }
    if (this.held.size > 0) this.components.log.info({ keys: [...this.held.keys()] }, 'resuming keepalives once caught up from a peer')
  }

  /** A pull from a peer took all it had: the keepalives resumed at the start are refreshed now. */
  caughtUp (): void {
    for (const key of this.resuming) this.schedule(key, 0)
    this.resuming.clear()
  }

  stop (): void {
    this.running = false
    this.replica = undefined
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
  }

  /** Keys kept alive, with their TTLs. */
  list (): Array<{ key: string, ttlMs: number }> {
    return [...this.held].map(([key, { ttlMs }]) => ({ key, ttlMs }))
  }

  /**
   * A put with keepalive was committed as `op`: refresh it from now on,
   * unless a later write of the key is committed already (one of the same
   * commit, or one committed while this one synced): it entered before this
   * hold, so its `drop` found nothing to end.
   */
  hold (op: Op, ttlMs: number): void {
    const row = this.replica?.store.row(op.key)
    if (row?.origin !== op.origin || row.seq !== op.seq) return
    this.resuming.delete(op.key)
    const held: Held = { ttlMs, value: Buffer.from(op.value as Uint8Array).toString('base64'), ...(op.type !== undefined ? { type: op.type } : {}) }
    this.held.set(op.key, held)
    this.save()
    this.schedule(op.key, ttlMs / 3)
  }

  /** A delete or a put without keepalive of `key` enters: no refresh of it follows. */
  drop (key: string): void {
    this.resuming.delete(key)
    if (!this.held.delete(key)) return
    clearTimeout(this.timers.get(key))
    this.timers.delete(key)
    this.save()
  }

  private schedule (key: string, ms: number): void {
    clearTimeout(this.timers.get(key))
    if (!this.running) return
    // a TTL over ~74 days is refreshed every ~24.8 days instead: only sooner than a third of it
    const timer = setTimeout(() => { void this.refresh(key) }, Math.min(ms, MAX_TIMER_MS))
    timer.unref()
    this.timers.set(key, timer)
  }

  private async refresh (key: string): Promise<void> {
    const held = this.held.get(key)
    if (held === undefined || !this.running) return
    this.resuming.delete(key)
    const replica = this.replica as Replica
    const check: Precondition = () => {
      // a key with no row was collected: its newest past version is its last write, another node's delete
      // collected within a third of the TTL included
      const last = replica.store.row(key) ?? replica.history(key, 1)[0]?.op
      return last === undefined || last.origin === replica.nodeId ? undefined : new KeepaliveLostError(`${key} was written by ${last.origin}`)
    }
    const change: Change = { key, value: Buffer.from(held.value, 'base64'), ttlMs: held.ttlMs, refresh: true, ...(held.type !== undefined ? { type: held.type } : {}) }
    try {
      await this.components.submit([change], check)
      if (this.held.get(key) === held) this.schedule(key, held.ttlMs / 3)
    } catch (err) {
      if (this.held.get(key) !== held || !this.running) return
      if (err instanceof KeepaliveLostError) {
        this.components.log.info({ key, reason: err.message }, 'keepalive ended: another node wrote the key')
        this.drop(key)
        return
      }
      this.components.log.warn({ key, err: (err as Error).message }, 'cannot refresh a keepalive; retrying')
      this.schedule(key, Math.min(1_000, held.ttlMs / 3))
    }
  }

  private save (): void {
    if (!this.running) return
    this.replica?.store.setMeta(META, JSON.stringify([...this.held]))
  }
}
