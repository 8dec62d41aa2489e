/**
 * Anti-entropy on real time: a pull from a random connected member when the
 * pace (core's `AntiEntropyPace`) says one is due (first from those whose
 * attestation disagreed with this node's ops, until asked again: core's
 * `rechecksDue`). Pulls that bring nothing
 * lengthen the wait, up to the bound; an op written or received, a gap, a new
 * connection or a peer saying it holds ops this node lacks shorten it again
 * (`stir`, `claimed`; a member pulling from this node with such a vector is
 * pulled from in turn). A peer's word only ever brings a pull sooner: the bound
 * holds whatever peers say.
 */
import { AntiEntropyPace, lacks, type PullResult, type Replica, type VersionVector } from '@murmur/core'
import type { AntiEntropyStatus } from '@murmur/protocol'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import type { SyncService } from './sync/sync-service.js'
import { MAX_TIMER_MS } from './max-timer.js'

export interface AntiEntropyInit {
  intervalMs: number
  /** @default core's `maxIntervalFor(intervalMs)` */
  maxIntervalMs?: number
  maxClockSkewMs: number
  log: Logger
}

export interface AntiEntropyComponents {
  replica: Replica
  sync: SyncService
  /** Group members connected now. */
  members: () => PeerId[]
  /** Why this node's clock looks wrong to its peers, if it does. */
  clockWarning: () => string | undefined
  /** Dials a member this node is not linked to (its connection opening pulls from it). */
  visit?: (peer: string) => void
}

/** The reason a pull of this module's own is started with (the sync service hands it back with the result). */
export const ANTI_ENTROPY = 'anti-entropy'
/**
 * How long after a member names ops this node lacks (pulling from it, or
 * answering its short hello) it pulls from that member, if gossip has not
 * brought them meanwhile.
 */
export const CLAIM_PULL_MS = 500

export class AntiEntropy {
  private readonly init: AntiEntropyInit
  private readonly pace: AntiEntropyPace
  private parts?: AntiEntropyComponents
  private timer?: NodeJS.Timeout
  private pulls = 0
  /** The last round asked a member due for a recheck: this one draws from every member. */
  private recheckedLast = false
  private clockWarnedAt = -Infinity
  /** Members whose pull named ops this node lacks: a pull from each, `CLAIM_PULL_MS` later. */
  private readonly asking = new Map<string, NodeJS.Timeout>()

  constructor (init: AntiEntropyInit) {
    this.init = init
    this.pace = new AntiEntropyPace({ intervalMs: init.intervalMs, ...(init.maxIntervalMs != null ? { maxIntervalMs: init.maxIntervalMs } : {}) })
  }

  start (parts: AntiEntropyComponents): void {
    this.parts = parts
    this.pace.stir(Date.now(), Math.random()) // a restarted node begins at the configured pace
    this.plan(this.pace.next(Date.now(), Math.random()))
  }

  stop (): void {
    clearTimeout(this.timer)
    for (const timer of this.asking.values()) clearTimeout(timer)
    this.asking.clear()
    this.parts = undefined
  }

  /** Something happened that may have left this node behind: the next pull comes at the configured pace. */
  stir (): void {
    const wait = this.pace.stir(Date.now(), Math.random())
    if (wait != null && this.parts != null) this.plan(wait)
  }

  /**
   * A peer says it holds more than this node (`holdsMore`, see core's
   * `claimOf`): the next pull comes sooner (never later), and, when `peer` said it pulling
   * from this node, a pull from it follows in `CLAIM_PULL_MS` if this node
   * still lacks them, not a whole interval later. A short hello says it
   * with its total (a whole one, with its vector). A server's answer to
   * this node's short hello says it with its vector (`reason` `digest`).
   */
  claimed (holdsMore: ((ours: VersionVector) => boolean) | undefined, peer?: PeerId, reason: 'claim' | 'digest' = 'claim'): void {
    if (holdsMore == null || this.parts == null || !holdsMore(this.parts.replica.vector())) return
    this.stir()
    const id = peer?.toString()
    if (peer == null || id == null || this.asking.has(id)) return
    this.asking.set(id, setTimeout(() => {
      this.asking.delete(id)
      const parts = this.parts
      if (parts != null && holdsMore(parts.replica.vector())) parts.sync.pullInBackground(peer, reason)
    }, CLAIM_PULL_MS))
  }

  /**
   * A pull ended. One of ours that brought nothing, from a server that
   * claimed nothing more, lengthens the wait; any other pull (on a new
   * connection, after a gap) or one that brought ops shortens it.
   */
  ended (result: PullResult, reason: string): void {
    const brought = result.applied > 0 || result.snapshot || result.removed > 0
    if (brought || reason !== ANTI_ENTROPY) {
      this.stir()
      return
    }
    this.pace.quiet()
    const vector = result.peerVector
    if (vector != null) this.claimed(ours => lacks(ours, vector))
  }

  status (): AntiEntropyStatus {
    return { intervalMs: this.pace.intervalMs, maxIntervalMs: this.pace.maxIntervalMs, waitMs: this.pace.currentMs, nextInMs: Math.max(0, this.pace.due - Date.now()), pulls: this.pulls }
  }

  private plan (wait: number): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { this.due() }, Math.min(wait, MAX_TIMER_MS))
  }

  private due (): void {
    const parts = this.parts
    if (parts == null) return
    this.plan(this.pace.next(Date.now(), Math.random()))
    try {
      const warning = parts.clockWarning()
      if (warning != null && this.clockWarnedAt < Date.now() - 300_000) {
        this.clockWarnedAt = Date.now()
        this.init.log.warn({ maxSkewMs: this.init.maxClockSkewMs }, warning)
      }
      const members = parts.members()
      // a member whose attestation disagreed, not asked again yet, first: it holds collection back until then; at most
      // every other round, so a member due again every round (one that attests a lie each time) cannot take every pull
      const due = new Set(parts.replica.rechecksDue())
      const asked = this.recheckedLast ? [] : members.filter(member => due.has(member.toString()))
      this.recheckedLast = asked.length > 0
      // each one not linked to this node (in a group larger than --peer-links): dialled, and asked as its connection
      // opens, whether or not a linked one is due too (one due every round must not keep the others unasked)
      const linked = new Set(members.map(member => member.toString()))
      for (const id of due) if (!linked.has(id)) parts.visit?.(id)
      const from = asked.length > 0 ? asked : members
      const peer = from[Math.floor(Math.random() * from.length)]
      if (peer == null) return
      this.pulls++
      parts.sync.pullInBackground(peer, ANTI_ENTROPY)
    } catch (err) {
      this.init.log.error({ err }, 'anti-entropy failed')
    }
  }
}
