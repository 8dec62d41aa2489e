/**
 * gossipsub v1.1 on one topic, as @libp2p/gossipsub runs it with murmurd's
 * settings: a mesh of D = 6 (kept within D_lo = 4 … D_hi = 12) rebuilt each
 * 1 s heartbeat, own messages flood-published to every connected peer
 * (floodPublish, the js default), others forwarded to mesh peers, IHAVE of
 * the message cache's last 3 heartbeats sent each heartbeat to D_lazy = 6
 * non-mesh peers (or a quarter of them, if more), IWANT for IDs not seen,
 * answered from the cache, and a seen-cache of message IDs (2 min) so each
 * message is handed to the node once. Not modelled: peer scoring (no peer
 * misbehaves here), PRUNE backoff, IDONTWANT (v1.2), outbound-degree quotas.
 */
import type { Rng } from '../rng.js'
import { CONTROL_OVERHEAD, GRAFT_BYTES, ID_BYTES, MESSAGE_OVERHEAD, type Traffic } from './wire.js'

export const D = 6
export const D_LO = 4
export const D_HI = 12
export const D_LAZY = 6
export const HEARTBEAT_MS = 1_000
const GOSSIP_FACTOR = 0.25
/** Heartbeats of messages IHAVE advertises, and that the cache keeps to answer IWANT. */
const GOSSIP_WINDOWS = 3
const HISTORY_WINDOWS = 5
const SEEN_TTL_MS = 120_000
const MAX_IHAVE = 5_000

export interface Message { id: string, data: Uint8Array, traffic: Traffic }

/** What the mesh needs from the network around it. */
export interface MeshNet {
  now: () => number
  /** Peers `node` is connected to now. */
  peers: (node: number) => number[]
  /** Sends `bytes` from `from` to `to` after the link's latency; `deliver` runs only if the link is still up then. */
  send: (from: number, to: number, bytes: number, traffic: Traffic, deliver: () => void) => void
}

/** One node's gossipsub router. `deliver` validates a message (true: accept and forward). */
export class Router {
  readonly mesh = new Set<number>()
  private seen = new Map<string, number>()
  private windows: Array<Map<string, Message>> = [new Map()]
  private readonly asked = new Set<string>()

  constructor (
    readonly node: number,
    private readonly net: MeshNet,
    private readonly rng: Rng,
    private readonly deliver: (msg: Message, from: number) => boolean,
    /** Off: the node publishes and forwards to nobody (anti-entropy alone). */
    private readonly enabled = true
  ) {}

  /** A restart: the seen-cache, the message cache and the mesh are gone. */
  reset (): void {
    this.mesh.clear()
    this.seen = new Map()
    this.windows = [new Map()]
    this.asked.clear()
  }

  publish (msg: Message): void {
    this.seen.set(msg.id, this.net.now())
    this.cache(msg)
    if (!this.enabled) return
    for (const peer of this.net.peers(this.node)) this.sendMessage(peer, msg, msg.traffic)
  }

  heartbeat (): void {
    const peers = this.net.peers(this.node)
    const connected = new Set(peers)
    for (const peer of this.mesh) if (!connected.has(peer)) this.mesh.delete(peer)
    if (this.enabled) {
      if (this.mesh.size < D_LO) {
        for (const peer of this.rng.shuffle(peers.filter(p => !this.mesh.has(p))).slice(0, D - this.mesh.size)) {
          this.mesh.add(peer)
          this.control(peer, GRAFT_BYTES, 'graft', r => { r.mesh.add(this.node) })
        }
      } else if (this.mesh.size > D_HI) {
        for (const peer of this.rng.shuffle([...this.mesh]).slice(D)) {
          this.mesh.delete(peer)
          this.control(peer, GRAFT_BYTES, 'graft', r => { r.mesh.delete(this.node) })
        }
      }
      this.emitGossip(peers)
    }
    this.windows.unshift(new Map())
    this.windows.length = Math.min(this.windows.length, HISTORY_WINDOWS)
    const now = this.net.now()
    for (const [id, at] of this.seen) {
      if (now - at < SEEN_TTL_MS) break // insertion order is time order
      this.seen.delete(id)
    }
    this.asked.clear()
  }

  /** Set by the fleet: the router of another node, to apply a GRAFT or PRUNE on arrival. */
  routerOf: (node: number) => Router | undefined = () => undefined

  private emitGossip (peers: number[]): void {
    const ids = this.windows.slice(0, GOSSIP_WINDOWS).flatMap(w => [...w.keys()]).slice(0, MAX_IHAVE)
    if (ids.length === 0) return
    const others = peers.filter(p => !this.mesh.has(p))
    const count = Math.max(D_LAZY, Math.floor(others.length * GOSSIP_FACTOR))
    for (const peer of this.rng.shuffle(others).slice(0, count)) {
      this.control(peer, CONTROL_OVERHEAD + ids.length * ID_BYTES, 'ihave', r => { r.ihave(this.node, ids) })
    }
  }

  private ihave (from: number, ids: string[]): void {
    const wanted = ids.filter(id => !this.seen.has(id) && !this.asked.has(id))
    if (wanted.length === 0) return
    for (const id of wanted) this.asked.add(id)
    this.control(from, CONTROL_OVERHEAD + wanted.length * ID_BYTES, 'iwant', r => { r.iwant(this.node, wanted) })
  }

  private iwant (from: number, ids: string[]): void {
    for (const id of ids) {
      const msg = this.lookup(id)
      if (msg !== undefined) this.sendMessage(from, msg, 'iwant')
    }
  }

  private receive (msg: Message, from: number): void {
    if (this.seen.has(msg.id)) return
    this.seen.set(msg.id, this.net.now())
    this.asked.delete(msg.id)
    if (!this.deliver(msg, from)) return
    this.cache(msg)
    if (!this.enabled) return
    for (const peer of this.mesh) if (peer !== from) this.sendMessage(peer, msg, msg.traffic)
  }

  private sendMessage (to: number, msg: Message, traffic: Traffic): void {
    this.net.send(this.node, to, MESSAGE_OVERHEAD + msg.data.length, traffic, () => { this.routerOf(to)?.receive(msg, this.node) })
  }

  private control (to: number, bytes: number, traffic: Traffic, apply: (router: Router) => void): void {
    this.net.send(this.node, to, bytes, traffic, () => {
      const router = this.routerOf(to)
      if (router !== undefined) apply(router)
    })
  }

  private cache (msg: Message): void {
    this.windows[0]?.set(msg.id, msg)
  }

  private lookup (id: string): Message | undefined {
    for (const w of this.windows) {
      const msg = w.get(id)
      if (msg !== undefined) return msg
    }
    return undefined
  }
}
