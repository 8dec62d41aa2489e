/**
 * The pulls a node starts on its own, as murmurd starts them: one from the
 * peer that sent ops past a gap, 500 ms later (coalesced), and anti-entropy
 * (daemon/src/anti-entropy.ts) on virtual time: the
 * same pace from core, its timer on the scheduler and its jitter from the
 * run's seed. A pull that brings nothing lengthens the wait up to the bound;
 * anything written or received, a gap, a new connection, or a peer that says
 * it holds more (its hello) shortens it. As murmurd's, a round asks a member
 * whose attestation disagreed, not asked again since (core's `rechecksDue`),
 * before any other (until then it holds collection back), at most every
 * other round (one due every round takes half the pulls, not all). Each such member
 * that no peer it reaches is, it dials (`visit`, murmurd's
 * `PeerDialer.visit`), every round, and pulls from a peer it reaches
 * meanwhile.
 */
import { AntiEntropyPace, inFlight, lacks, type PullResult, type VersionVector } from '@murmur/core'
import type { Rng } from './rng.js'
import type { Scheduler, Timer } from './scheduler.js'

export interface SimAntiEntropyInit {
  sched: Scheduler
  rng: Rng
  intervalMs: number
  /** The peers this node reaches now. */
  peers: () => string[]
  /** Starts a pull from `peer`. */
  pull: (peer: string) => void
  /** What this node holds now. */
  vector: () => VersionVector
  /** Members to ask again first (the replica's `rechecksDue`). */
  due: () => string[]
  /** Dials a member this node does not reach (a new link pulls from it at once). */
  visit?: (peer: string) => void
  /** A pull from a puller whose vector names ops this node lacks (murmurd's since 3.1.0; off for seeds found before). */
  claimPulls: boolean
}

export class SimAntiEntropy {
  private readonly init: SimAntiEntropyInit
  private pace: AntiEntropyPace
  private timer?: Timer
  /** Peers of pulls this started, not yet ended. */
  private readonly asked = new Set<string>()
  /** The last round asked a member due for a recheck: this one draws from every peer (murmurd's rule). */
  private recheckedLast = false
  private readonly repairs = new Map<string, Timer>()
  private readonly asking = new Map<string, Timer>()

  constructor (init: SimAntiEntropyInit) {
    this.init = init
    this.pace = new AntiEntropyPace({ intervalMs: init.intervalMs })
  }

  start (): void {
    this.pace = new AntiEntropyPace({ intervalMs: this.init.intervalMs })
    this.plan(this.pace.next(this.init.sched.now, this.init.rng.next()))
  }

  stop (): void {
    this.init.sched.cancel(this.timer)
    this.timer = undefined
    this.asked.clear()
    for (const timer of [...this.repairs.values(), ...this.asking.values()]) this.init.sched.cancel(timer)
    this.repairs.clear()
    this.asking.clear()
  }

  /** Ops from `peer` arrived past a gap in an origin's sequence: pull from it soon. */
  gap (peer: string): void {
    this.stir()
    if (this.repairs.has(peer)) return
    this.repairs.set(peer, this.init.sched.after(500, () => {
      this.repairs.delete(peer)
      this.init.pull(peer)
    }))
  }

  stir (): void {
    const wait = this.pace.stir(this.init.sched.now, this.init.rng.next())
    if (wait !== undefined && this.timer !== undefined) this.plan(wait)
  }

  /** As murmurd's: a claim to hold more (core's `claimOf`) stirs the pace; said by a puller (`peer`), a pull from it 500 ms later if still lacking. */
  claimed (holdsMore: (ours: VersionVector) => boolean, peer?: string): void {
    if (!holdsMore(this.init.vector())) return
    this.stir()
    if (peer === undefined || this.asking.has(peer) || !this.init.claimPulls) return
    this.asking.set(peer, this.init.sched.after(500, () => {
      this.asking.delete(peer)
      if (holdsMore(this.init.vector())) this.init.pull(peer)
    }))
  }

  ended (result: PullResult, server: string): void {
    // a short hello's answer named ops this node lacks: the whole pull, at once for more than gossip could be
    // carrying, else 500 ms later if gossip has not brought them
    const named = result.peerVector
    if (result.again === true && named !== undefined) {
      if (inFlight(this.init.vector(), named)) this.claimed(ours => lacks(ours, named), server)
      else this.init.pull(server)
    }
    // as murmurd's sync service: a snapshot declined before its rows (the ops after them are still to come), or wanted
    if (result.declined === true || result.wanted === true) this.init.pull(server)
    const ours = this.asked.delete(server)
    if (!ours || result.applied > 0 || result.snapshot || result.removed > 0) {
      this.stir()
      return
    }
    this.pace.quiet()
    const vector = result.peerVector
    if (vector !== undefined) this.claimed(ours => lacks(ours, vector))
  }

  private plan (wait: number): void {
    this.init.sched.cancel(this.timer)
    this.timer = this.init.sched.after(wait, () => {
      this.plan(this.pace.next(this.init.sched.now, this.init.rng.next()))
      const peers = this.init.peers()
      const due = new Set(this.init.due())
      const first = this.recheckedLast ? [] : peers.filter(peer => due.has(peer))
      this.recheckedLast = first.length > 0
      // as murmurd's (daemon anti-entropy.ts): each member due that no link reaches is dialled, and asked as the link
      // opens, whether or not one it reaches is due too
      for (const member of due) if (!peers.includes(member)) this.init.visit?.(member)
      if (peers.length === 0) return
      const peer = this.init.rng.pick(first.length > 0 ? first : peers)
      this.asked.add(peer)
      this.init.pull(peer)
    })
  }
}
