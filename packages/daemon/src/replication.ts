/**
 * The daemon side of replication: runs the replica's decisions on real time
 * and real peers. It publishes this node's ops once they are on disk, turns
 * what gossip and sync bring into change events, counters and logs, writes
 * attestations when they fall due, collects, pulls from a random member now
 * and then (anti-entropy.ts) and soon after a gap, re-writes what a snapshot
 * showed this node must write again, and tells watchers of values that
 * expired (each second). Every decision itself is the
 * replica's (see @murmur/core).
 */
import { isReserved, type Change, type Op, type PastVersion, type PullResult, type PullStep, type Received, type Refusal, type RefusalKind, type Replica, type SqliteStore } from '@murmur/core'
import type { NodeCounters } from '@murmur/protocol'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import { AntiEntropy, type AntiEntropyComponents } from './anti-entropy.js'
import { Outbound } from './outbound.js'
import { RemoteSync } from './remote-sync.js'
import type { GossipReplication } from './gossip.js'
import type { SyncService } from './sync/sync-service.js'

/** How long a message's new proofs wait for an fsync begun by another (the next commit's, under load) before one of their own. */
export const PROOF_RIDE_MS = 2

export { REMOTE_SYNC_DELAY_MS } from './remote-sync.js'

/** The key in `repairs` of the timer that writes again what a seq signed twice named (no peer ID looks like it). */
const WRITE_AGAIN = 'write-again'

export interface ReplicationInit {
  /** 'full': ops are published once their commit is fsynced (the writer waits for it anyway); 'normal': after a background fsync. */
  durability: 'full' | 'normal'
  antiEntropyIntervalMs: number
  /** The longest wait between anti-entropy pulls in a quiet group. @default core's `maxIntervalFor` */
  antiEntropyMaxIntervalMs?: number
  tombstoneGraceMs: number
  maxClockSkewMs: number
  /** How long own ops wait to share a gossip message (see outbound.ts). @default PUBLISH_WINDOW_MS */
  publishWindowMs?: number
  log: Logger
}

/** Anti-entropy's own parts (members, the clock warning) besides what replication uses. */
export interface ReplicationComponents extends AntiEntropyComponents {
  replica: Replica
  store: SqliteStore
  gossip: GossipReplication
  sync: SyncService
  /** Writes changes as this node's own (the write queue). */
  write: (changes: Change[]) => Promise<unknown>
  /** A key changed by this node (`source` 'local') or by its expiry ('expire'). */
  changed: (op: Op, source: string) => void
  /** Keys a peer's ops changed (`source`: the peer they came through), and the versions found to have lost to a write that had not seen them. */
  peerChanged: (changed: Op[], conflicts: PastVersion[], source: string) => void
  /** A pull took all its peer had: this node has caught up from it. */
  caughtUp?: () => void
}

export class Replication {
  readonly counters: NodeCounters = { repaired: 0, gossiped: 0, rejected: 0, held: 0, collected: 0 }
  /** `counters.rejected` by why, for the metrics. */
  readonly refusedBy: Record<RefusalKind, number> = { signature: 0, origin: 0, record: 0, future: 0, order: 0 }
  readonly antiEntropy: AntiEntropy
  private readonly init: ReplicationInit
  private parts?: ReplicationComponents
  private timers: NodeJS.Timeout[] = [] // setInterval's, which clearTimeout clears too
  /** Pulls after a gap, by peer, and the write again a seq signed twice named (`WRITE_AGAIN`): timers `stop` clears. */
  private readonly repairs = new Map<string, NodeJS.Timeout>()
  private readonly warnedAt = new Map<string, number>()
  /** 'normal' durability: own ops committed but not yet fsynced, published after the next background sync. */
  private unsynced: Op[] = []
  private syncing = false
  /** The WAL's fsync mark right after the latest transaction that stored proofs of own ops (`signed`). */
  private proofMark?: number
  /** The fsync of ops from peers (remote-sync.ts). */
  private readonly remoteSync: RemoteSync
  /** Own ops on disk, published a few a message when they come fast (outbound.ts). */
  readonly outbound: Outbound

  constructor (init: ReplicationInit) {
    this.init = init
    this.remoteSync = new RemoteSync(() => this.parts?.store, init.log)
    this.outbound = new Outbound(async ops => await this.parts?.gossip.publish(ops), init.log, init.publishWindowMs, async ops => await this.signed(ops))
    this.antiEntropy = new AntiEntropy({ intervalMs: init.antiEntropyIntervalMs, maxIntervalMs: init.antiEntropyMaxIntervalMs, maxClockSkewMs: init.maxClockSkewMs, log: init.log })
  }

  start (parts: ReplicationComponents): void {
    this.parts = parts
    const every = (ms: number, fn: () => void): void => {
      this.timers.push(setInterval(() => { try { fn() } catch (err) { this.init.log.error({ err }, 'replication timer failed') } }, ms))
    }
    every(1_000, () => { this.second() })
    every(Math.min(60_000, Math.max(1_000, Math.min(this.init.antiEntropyIntervalMs, this.init.tombstoneGraceMs / 2))), () => { this.collect() })
    this.antiEntropy.start(parts)
    this.second()
  }

  stop (): void {
    this.antiEntropy.stop()
    this.outbound.stop()
    for (const timer of [...this.timers, ...this.repairs.values()]) clearTimeout(timer)
    this.remoteSync.stop()
    this.timers = []
    this.repairs.clear()
    this.parts = undefined
    this.proofMark = undefined
  }

  /**
   * Own ops whose commit is acknowledged: watchers hear of them now; peers,
   * only once they are on disk, so no peer ever learns a seq this node could
   * lose to a power cut and then issue again.
   */
  published (ops: Op[]): void {
    const parts = this.parts
    if (parts == null) return
    try {
      for (const op of ops) if (!isReserved(op.key)) parts.changed(op, 'local')
    } catch (err) {
      this.init.log.error({ err }, 'a change listener failed')
    }
    this.antiEntropy.stir()
    if (this.init.durability === 'full') this.release(ops)
    else {
      this.unsynced.push(...ops)
      this.syncSoon()
    }
  }

  /** Ops an accepted gossip message carried; returns those checked and not kept (`GossipInit.receive`). */
  gossiped (ops: Op[], via: PeerId): Op[] {
    const replica = this.parts?.replica
    if (replica == null) return []
    const received = this.guard(() => replica.receive(ops, { via: 'gossip' }), via.toString())
    this.logReceived(ops, via.toString(), 'gossip', received)
    if (received == null) return []
    this.took(received, via.toString(), 'gossiped')
    if (received.applied > 0 || received.gap) this.antiEntropy.stir()
    if (received.gap) this.repairSoon(via)
    return [...received.refused.map(refusal => refusal.op), ...received.unkept]
  }

  /** A frame of a pull was taken. */
  pulled (step: PullStep, peer: PeerId): void {
    const parts = this.parts
    if (parts == null) return
    if (step.received.length > 0) this.logReceived(step.received, peer.toString(), 'sync', step)
    this.counters.repaired += step.changed.length
    parts.peerChanged([...step.changed, ...step.removed.filter(op => op.value !== null).map(op => ({ ...op, value: null }))], step.conflicts, peer.toString())
    if (step.refused.length > 0) this.refused(peer.toString(), step.refused)
    this.equivocated(step.equivocations, peer.toString())
    if (step.applied > 0 || step.changed.length > 0) this.remoteSync.soon()
  }

  /** A pull ended; `reason`: why it was asked for. */
  pullEnded (result: PullResult, peer: PeerId, reason: string): void {
    this.antiEntropy.ended(result, reason)
    if (result.aborted === undefined) this.parts?.caughtUp?.()
    if (result.forged > 0) this.init.log.warn({ peer: peer.toString(), forged: result.forged }, 'peer relayed ops with bad signatures; they were refused')
    if (result.removed > 0) this.init.log.warn({ peer: peer.toString(), removed: result.removed }, 'caught up from a peer snapshot: dropped values deleted while this node was away')
    this.writeAgain(peer.toString())
  }

  /** Writes again what snapshots, ops older than a collected delete and second versions of one seq named (see `Replica.rewrites`). */
  private writeAgain (from: string): void {
    const parts = this.parts
    const again = parts?.replica.rewrites() ?? []
    if (parts == null || again.length === 0) return
    this.init.log.warn({ peer: from, writes: again.length }, 'writing again what a snapshot or a peer\'s ops showed: deletes of values deleted and collected while this node was away, values older than a collected delete that may have been of their key, and the keys of an op signed twice with one sequence number')
    parts.write(again).catch((err: Error) => { this.init.log.error({ err: err.message }, 'cannot write again what a snapshot or an old op showed') })
  }

  /** Counts refusals and logs (at most once a minute per peer) who sent them. */
  refused (from: string, refused: Refusal[]): void {
    this.counters.rejected += refused.length
    for (const refusal of refused) this.refusedBy[refusal.kind]++
    if (!this.due(`refused:${from}`, 60_000)) return
    const first = refused[0] as Refusal
    this.init.log.warn({ peer: from, refused: refused.length, origin: first.op.origin, key: first.op.key, problem: first.reason }, 'refused ops from peer')
  }

  /** Whether a warning named `key` may be logged again (at most once per `everyMs`); notes that it was. */
  due (key: string, everyMs: number): boolean {
    const now = Date.now()
    if ((this.warnedAt.get(key) ?? -Infinity) > now - everyMs) return false
    this.warnedAt.set(key, now)
    return true
  }

  /** `from`: the peer the ops came through, or 'held' for ops the clock has just let through. */
  private took (received: Received, from: string, counter: 'gossiped' | 'repaired'): void {
    const parts = this.parts
    if (parts == null) return
    this.counters[counter] += received.changed.length
    parts.peerChanged(received.changed, received.conflicts, from)
    if (received.refused.length > 0) this.refused(from, received.refused)
    if (received.held > 0 && this.due(`skew:${from}`, 60_000)) {
      this.init.log.warn({ peer: from, held: received.held, maxSkewMs: this.init.maxClockSkewMs },
        'received ops stamped beyond the clock-skew bound; holding them until our clock catches up (is a clock wrong?)')
    }
    this.equivocated(received.equivocations, from)
    if (received.applied > 0) this.remoteSync.soon()
  }

  private logReceived (ops: Op[], source: string, via: 'gossip' | 'sync', outcome?: { applied: number, changed: Op[] }): void {
    if (!this.init.log.isLevelEnabled('debug')) return
    // `userOps`: the ops that are not murmur's own records, so a test can count what it wrote
    const userOps = ops.filter(op => !isReserved(op.key)).length
    this.init.log.debug({ source, via, received: ops.length, userOps, applied: outcome?.applied ?? 0, changed: outcome?.changed.length ?? 0 }, 'applied remote ops')
  }

  private equivocated (found: Array<{ origin: string, seq: number }>, from: string): void {
    for (const { origin, seq } of found) {
      this.init.log.warn({ origin, seq, peer: from }, 'an origin signed two different ops with one sequence number; keeping both')
    }
    // the keys the versions hold are written again (nodes past that seq never take the version), within 2 s, not at
    // the next pull's end; after a random wait, so the first node's writes reach the others first and end theirs (a row
    // no longer that version is not written again), where at once every node that found it would write each key
    if (found.length === 0 || this.repairs.has(WRITE_AGAIN)) return
    this.repairs.set(WRITE_AGAIN, setTimeout(() => {
      this.repairs.delete(WRITE_AGAIN)
      this.writeAgain(from)
    }, Math.random() * 2_000))
  }

  /** Runs a receive; a failed commit (a full disk) is logged, and nothing of it counts: a later sync brings it again. */
  private guard (fn: () => Received, from: string): Received | undefined {
    try {
      return fn()
    } catch (err) {
      this.init.log.error({ err: (err as Error).message, peer: from }, 'cannot apply remote ops; a later sync brings them again')
      return undefined
    }
  }

  private second (): void {
    const parts = this.parts
    if (parts == null) return
    const released = this.guard(() => parts.replica.release(), 'held')
    if (released != null && released.applied > 0) this.took(released, 'held', 'repaired')
    this.writeAgain('held')
    const attestation = parts.replica.attestation()
    if (attestation != null) {
      parts.write([attestation]).catch((err: Error) => { this.init.log.warn({ err: err.message }, 'cannot write this node\'s attestation; will retry') })
    }
    parts.sync.tick()
    // last: a failed sweep is tried again next second, and holds up nothing else
    for (const op of parts.replica.expire()) parts.changed(op, 'expire')
  }

  private collect (): void {
    const replica = this.parts?.replica
    if (replica == null) return
    const collected = replica.collect()
    this.counters.collected += collected.tombstones
    if (collected.tombstones > 0 || collected.history > 0) this.init.log.info({ tombstones: collected.tombstones, superseded: collected.history }, 'collected what every member holds')
    if (collected.blocked != null && this.due('blocked', 300_000)) this.init.log.info({ reason: collected.blocked }, 'collection waits')
  }

  /** Ops arrived past a gap in some origin's sequence: pull from the peer soon (coalesced; `repairs` by peer). */
  private repairSoon (peer: PeerId): void {
    const key = peer.toString()
    if (this.repairs.has(key)) return
    this.repairs.set(key, setTimeout(() => {
      this.repairs.delete(key)
      // gossip that arrived out of order has usually filled the gap by now
      if ((this.parts?.replica.waiting ?? 0) > 0) this.parts?.sync.pullInBackground(peer, 'gap')
    }, 500))
  }

  /** Own ops in 'normal' durability: one background fsync at a time, then everything committed before it goes out. */
  private syncSoon (): void {
    if (this.syncing || this.unsynced.length === 0 || this.parts == null) return
    this.syncing = true
    const ops = this.unsynced
    this.unsynced = []
    this.parts.store.sync().then(() => { this.release(ops) }, (err: Error) => {
      this.init.log.warn({ err: err.message }, 'background fsync failed; publishing waits for the next one')
      this.unsynced.unshift(...ops)
    }).finally(() => {
      this.syncing = false
      if (this.unsynced.length > 0) setTimeout(() => { this.syncSoon() }, 100)
    })
  }

  /** Own ops now on disk: they may be signed, published and served. */
  private release (ops: Op[]): void {
    if (this.parts == null || ops.length === 0) return
    this.outbound.push(ops)
  }

  /**
   * A message's own ops, signed as it leaves (one proof for the commits it
   * carries; see core's `signing.ts`); true once the proof is on disk too,
   * and from then on they may be published and served.
   */
  private async signed (ops: Op[]): Promise<boolean> {
    const parts = this.parts
    if (parts == null || ops.length === 0) return false
    const wal = parts.store.wal
    if (parts.replica.prove(ops).length > 0) this.proofMark = wal?.mark()
    // ops signed in their commit went to disk with it; proofs need an fsync begun after them, the next commit's if one comes soon
    if (this.proofMark !== undefined) await wal?.syncedAfter(this.proofMark, PROOF_RIDE_MS)
    if (this.parts !== parts) return false
    parts.replica.markDurable(ops.reduce((top, op) => Math.max(top, op.seq), 0))
    return true
  }
}
