/**
 * What this node knows of each peer's replication state (`status` →
 * `peerSync`), bounded under churn: a peer connected now is always kept; of
 * the others, the `maxIdle` seen last, each for `maxIdleMs` after it was last
 * seen (connected, or syncing). Without the bound, every peer ever met stayed
 * until a restart.
 */
import type { PeerSyncState } from './sync-service.js'

export interface PeerStatesInit {
  /** Peers not connected whose state is kept. @default 64 */
  maxIdle?: number
  /** How long the state of a peer no longer connected is kept. @default 86_400_000 (a day) */
  maxIdleMs?: number
}

export class PeerStates {
  private readonly states = new Map<string, PeerSyncState>()
  /** When each peer was last seen: kept in the order seen, oldest first. */
  private readonly seenAt = new Map<string, number>()

  /** `connected`: the peers connected now. */
  constructor (private readonly connected: () => ReadonlySet<string>, private readonly init: PeerStatesInit = {}) {}

  /** The state of `peer`, kept from now as last seen (made if new). */
  of (peer: string, now = Date.now()): PeerSyncState {
    let state = this.states.get(peer)
    if (state === undefined) this.states.set(peer, (state = {}))
    this.seen(peer, now)
    this.prune(now)
    return state
  }

  /** Every state kept, the bound applied first. */
  all (now = Date.now()): ReadonlyMap<string, PeerSyncState> {
    this.prune(now)
    return this.states
  }

  private seen (peer: string, now: number): void {
    this.seenAt.delete(peer)
    this.seenAt.set(peer, now)
  }

  private prune (now: number): void {
    const connected = this.connected()
    for (const peer of connected) if (this.states.has(peer)) this.seen(peer, now)
    let idle = this.states.size - [...connected].filter(peer => this.states.has(peer)).length
    const maxIdle = this.init.maxIdle ?? 64
    const since = now - (this.init.maxIdleMs ?? 86_400_000)
    for (const [peer, at] of this.seenAt) {
      if (idle <= maxIdle && at >= since) break // the rest were seen later
      if (connected.has(peer)) continue
      this.states.delete(peer)
      this.seenAt.delete(peer)
      idle--
    }
  }
}
