/**
 * Keeps peers connected.
 *
 * - The `--peer` addresses are kept connected whatever the bound
 *   (pinned.ts), with this dialer's backoff; their peers are never swapped
 *   out.
 * - A member the peer book knows as a relay, or as the one a ticket named,
 *   is dialled and redialled whatever the bound: a node behind NAT reaches
 *   the group through it, and keeps its reservation there.
 * - Other members from the peer book and from discovery (mDNS, the DHT) are
 *   candidates. While the node has dialled fewer than `links` of the peers
 *   it is connected to, it dials candidates it is not connected to, in
 *   random order; one that fails waits out its own backoff before it is
 *   tried again. A group of up to `links` + 1 nodes ends fully connected,
 *   as before; in a larger one each node dials `links` members, not every
 *   member it ever met (999 connections a node at 1,000), and is dialled by
 *   about as many (the scale model's 8 dials and 16 links). Inbound links do
 *   not count: with them, nodes that had dialled each other could all sit
 *   at the bound in two cliques and never meet; random dials of its own
 *   from every node keep the group one graph.
 * - Every `rotateMs` (jittered), a node at the bound that knows a member it
 *   is not connected to swaps one of its dialled links for it: it dials the
 *   new one first, then closes its own connection to a dialled member picked
 *   at random, which is not dialled again for as long. Links drawn once
 *   stay drawn otherwise, so two groups of nodes that happened to dial
 *   among themselves would stay apart; swapping, they meet.
 * - Candidates the peer book does not know as members (found by mDNS or the
 *   DHT) are bounded in number and in dials a second (strangers.ts), and a
 *   failed dial of one is logged at debug level.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import { MAX_TIMER_MS } from './max-timer.js'
import { peerOf } from './membership.js'
import { keepConnected, STABLE_MS } from './pinned.js'
import { RateLimiter } from './rate-limit.js'
import { roomForStranger, STRANGER_DIALS_PER_SECOND } from './strangers.js'

/** The default number of links a node dials candidates up to (`--peer-links`). */
export const PEER_LINKS = 8
/** How often, by default, a node at the bound swaps one dialled link for a member it is not connected to (`--peer-rotate`). */
export const PEER_ROTATE_MS = 600_000

/** `ms` as given, or a RangeError that says what is allowed. */
export function checkedRotate (ms: number): number {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`peerRotateMs must be a whole number of ms, 0 to never swap links, not ${String(ms)}`)
  return ms
}

/** `links` as given, or a RangeError that says what is allowed. */
export function checkedLinks (links: number): number {
  if (!Number.isSafeInteger(links) || links < 1) throw new RangeError(`peerLinks must be a whole number of at least 1, not ${String(links)}`)
  return links
}

export interface PeerDialerInit {
  log: Logger
  /** Peers the node dials candidates up to, counting those it dialled itself (outbound). @default 8 */
  links?: number
  /** Mean time between swaps of one dialled link for a member not connected; 0: never. @default 600_000 */
  rotateMs?: number
  /** @default 500 */
  minDelayMs?: number
  /** @default 30_000 */
  maxDelayMs?: number
}

interface Candidate {
  peer: PeerId
  /** Dialled whatever the bound (a relay, the member a ticket named). */
  always: boolean
  /** Offered as a member the peer book knows; otherwise one of at most `MAX_STRANGERS`. */
  member: boolean
  /** Failed dials, and links that dropped within `STABLE_MS`, in a row. */
  failures: number
  /** Not dialled again before this (ms since the epoch). */
  retryAt: number
  /** When the last dial of it succeeded. */
  since?: number
  /** A failure was logged at warn level since its last success (the next ones go at debug). */
  warned?: boolean
}


export class PeerDialer {
  private readonly libp2p: Libp2p
  private readonly init: PeerDialerInit
  private readonly links: number
  private readonly rotateMs: number
  private readonly controller = new AbortController()
  private readonly loops: Array<Promise<void>> = []
  private readonly candidates = new Map<string, Candidate>()
  private readonly dialing = new Set<string>()
  /** Dials of strangers (candidates not known as members), one bucket for all. */
  private readonly strangerDials: RateLimiter
  private fillTimer?: NodeJS.Timeout
  private fillAt = Infinity
  private rotateTimer?: NodeJS.Timeout
  /** The peers `--peer` addresses reached: never swapped out. */
  private readonly pinned = new Set<string>()
  private readonly onDisconnect = (): void => { this.schedule(0) }

  constructor (libp2p: Libp2p, init: PeerDialerInit) {
    const links = checkedLinks(init.links ?? PEER_LINKS)
    this.libp2p = libp2p
    this.init = init
    this.links = links
    this.strangerDials = new RateLimiter(STRANGER_DIALS_PER_SECOND, links)
    this.rotateMs = checkedRotate(init.rotateMs ?? PEER_ROTATE_MS)
    libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.rotateLater()
  }

  /** Keeps `target` (a `--peer` address) connected until `stop()`; none that names this node (a config file every member shares). */
  add (target: Multiaddr): void {
    if (peerOf(target.toString()) === this.libp2p.peerId.toString()) {
      this.init.log.info({ target: target.toString() }, '--peer names this node itself; not dialled')
      return
    }
    this.loops.push(keepConnected(this.libp2p, target, { log: this.init.log, signal: this.controller.signal, backoff: failures => this.backoff(failures), reached: peer => { this.pinned.add(peer.toString()) } }))
  }

  /**
   * A peer to dial while the node has dialled fewer than `links` of its
   * peers, or whatever it has when `always`: a `member` the peer book knows,
   * or one found (mDNS, the DHT), which may not be one. False when a found
   * one was not taken: as many found ones wait already, none of which can go.
   */
  offer (peer: PeerId, options: { always?: boolean, member?: boolean } = {}): boolean {
    if (peer.equals(this.libp2p.peerId) || this.controller.signal.aborted) return false
    const always = options.always === true
    const member = options.member === true
    const known = this.candidates.get(peer.toString())
    if (known !== undefined) {
      known.always ||= always
      known.member ||= member
    } else {
      if (!member) {
        const { room, drop } = roomForStranger(this.candidates, (id, c) => this.dialing.has(id) || this.libp2p.getConnections(c.peer).length > 0)
        if (!room) return false
        if (drop !== undefined) this.candidates.delete(drop)
      }
      this.candidates.set(peer.toString(), { peer, always, member, failures: 0, retryAt: 0 })
    }
    this.schedule(0)
    return true
  }

  /** Candidates waiting or connected. */
  get size (): number {
    return this.candidates.size
  }

  /**
   * Dials `peer` once, whatever the bound: a pull from it is due that no
   * link of this node can make (a recheck, see anti-entropy.ts). Nothing if
   * a dial is under way or the peer is connected.
   */
  visit (peer: PeerId): void {
    const id = peer.toString()
    if (this.controller.signal.aborted || this.dialing.has(id) || this.libp2p.getConnections(peer).length > 0) return
    this.dialing.add(id)
    this.libp2p.dial(peer, { signal: AbortSignal.any([this.controller.signal, AbortSignal.timeout(10_000)]) })
      .then(() => { this.init.log.info({ peer: id }, 'connected to a member to ask it again') })
      .catch((err: Error) => { this.init.log.debug({ peer: id, err: err.message }, 'cannot reach a member to ask it again') })
      .finally(() => { this.dialing.delete(id) })
  }

  async stop (): Promise<void> {
    this.controller.abort()
    clearTimeout(this.fillTimer)
    clearTimeout(this.rotateTimer)
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    await Promise.allSettled(this.loops)
  }

  private schedule (ms: number): void {
    if (this.controller.signal.aborted || Date.now() + ms >= this.fillAt) return
    clearTimeout(this.fillTimer)
    this.fillAt = Date.now() + ms
    this.fillTimer = setTimeout(() => {
      this.fillAt = Infinity
      this.fill()
    }, ms)
    this.fillTimer.unref()
  }

  /** Dials ready candidates up to `links`; when still short, comes back as the first backoff ends. */
  private fill (): void {
    const connections = this.libp2p.getConnections()
    const connected = new Set(connections.map(c => c.remotePeer.toString()))
    const dialled = new Set(connections.filter(c => c.direction === 'outbound').map(c => c.remotePeer.toString()))
    const now = Date.now()
    for (const [id, candidate] of this.candidates) {
      if (connected.has(id) || candidate.since === undefined) continue
      // its link dropped (this runs on every disconnect): after a long one, at once; after a flap, the backoff set when it opened
      if (now - candidate.since >= STABLE_MS) Object.assign(candidate, { failures: 0, retryAt: 0 })
      candidate.since = undefined
    }
    const waiting = [...this.candidates].filter(([id]) => !connected.has(id) && !this.dialing.has(id))
    const ready = waiting.filter(([, c]) => c.retryAt <= now)
    for (let i = ready.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      ;[ready[i], ready[j]] = [ready[j] as [string, Candidate], ready[i] as [string, Candidate]]
    }
    const always = ready.filter(([, c]) => c.always)
    for (const [id, candidate] of always) void this.dial(id, candidate)
    const room = Math.max(0, this.links - dialled.size - this.dialing.size)
    const others = ready.filter(([, c]) => !c.always)
    let dialling = 0
    let strangersWait = false
    for (const [id, candidate] of others) {
      if (dialling >= room) break
      if (!candidate.member && !this.strangerDials.take('strangers')) {
        strangersWait = true
        continue
      }
      void this.dial(id, candidate)
      dialling++
    }
    // strangers left for want of a dial: when the next may go
    if (strangersWait && dialling < room) this.schedule(Math.ceil(1000 / STRANGER_DIALS_PER_SECOND))
    // still short, or an always-dialled one waiting: come back when the first backoff ends
    const next = Math.min(...waiting.filter(([, c]) => c.retryAt > now && (c.always || room > others.length)).map(([, c]) => c.retryAt))
    if (next < Infinity) this.schedule(next - now)
  }

  private async dial (id: string, candidate: Candidate): Promise<void> {
    const { signal } = this.controller
    this.dialing.add(id)
    try {
      await this.libp2p.dial(candidate.peer, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })
      this.init.log.info({ peer: id }, 'connected to peer')
      // a link that drops soon after (a peer that hangs up) counts as a failure: no tight loop of dials
      candidate.since = Date.now()
      candidate.retryAt = Date.now() + this.backoff(++candidate.failures)
      candidate.warned = false
    } catch (err) {
      if (signal.aborted) return
      const wait = this.backoff(++candidate.failures)
      candidate.retryAt = Date.now() + wait
      // a member long gone stays in the peer book for 30 days: said once, then only at debug level; a stranger (which
      // anyone in the DHT may name, made up) only at debug level
      this.init.log[candidate.warned === true || !candidate.member ? 'debug' : 'warn']({ peer: id, err: (err as Error).message, retryInMs: wait }, 'cannot reach peer; will retry')
      candidate.warned = true
    } finally {
      this.dialing.delete(id)
      this.schedule(0)
    }
  }

  private rotateLater (): void {
    if (this.rotateMs === 0 || this.controller.signal.aborted) return
    this.rotateTimer = setTimeout(() => { void this.rotate().finally(() => { this.rotateLater() }) }, Math.min(Math.round(this.rotateMs * (0.5 + Math.random())), MAX_TIMER_MS))
    this.rotateTimer.unref()
  }

  /** Swaps one dialled link for a member not connected, when at the bound: the new one is dialled before the old one goes. */
  private async rotate (): Promise<void> {
    const connections = this.libp2p.getConnections()
    const connected = new Set(connections.map(c => c.remotePeer.toString()))
    const swappable = (id: string): boolean => this.candidates.get(id)?.always === false && !this.pinned.has(id)
    const dialled = [...new Set(connections.filter(c => c.direction === 'outbound').map(c => c.remotePeer.toString()))]
    const now = Date.now()
    const fresh = [...this.candidates].filter(([id, c]) => !c.always && !connected.has(id) && !this.dialing.has(id) && c.retryAt <= now)
    const out = dialled.filter(swappable)
    if (dialled.length < this.links || out.length === 0 || fresh.length === 0) return
    const [id, candidate] = fresh[Math.floor(Math.random() * fresh.length)] as [string, Candidate]
    const old = out[Math.floor(Math.random() * out.length)] as string
    await this.dial(id, candidate)
    if (this.controller.signal.aborted || this.libp2p.getConnections(candidate.peer).length === 0) return
    const gone = this.candidates.get(old)
    if (gone === undefined) return
    // not dialled back at once (its drop is no flap either): the next fill or swap picks among the others
    Object.assign(gone, { since: undefined, failures: 0, retryAt: Date.now() + this.rotateMs })
    this.init.log.debug({ peer: id, instead: old }, 'swapped a dialled link')
    for (const connection of this.libp2p.getConnections(gone.peer)) {
      if (connection.direction === 'outbound') await connection.close().catch(() => {})
    }
  }

  /** The wait after `failures` in a row: doubling from `minDelayMs` up to `maxDelayMs`, jittered ±50 %. */
  private backoff (failures: number): number {
    return Math.round(Math.min(this.init.maxDelayMs ?? 30_000, (this.init.minDelayMs ?? 500) * 2 ** (failures - 1)) * (0.5 + Math.random()))
  }
}
