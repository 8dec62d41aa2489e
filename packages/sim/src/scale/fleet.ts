/**
 * The scale model's world: N nodes (scale-node.ts) on a fixed graph of
 * connections (topology.ts), each link with its own latency plus a little
 * jitter; partitions and nodes leaving cut links; every byte a node sends or
 * receives is counted by what it was for (wire.ts). Sync pulls run the real
 * `serve` and `PullSession` over `encodeFrame`/`decodeFrame`, one frame at a
 * time, each after the link's latency.
 */
import { PullSession, claimOf, decodeFrame, inFlight, lacks, encodeFrame, serve, type Frame, type Op } from '@murmur/core'
import { createHash } from 'node:crypto'
import { SimKeys } from '../keys.js'
import { Rng } from '../rng.js'
import { Scheduler } from '../scheduler.js'
import { ScaleNode } from './scale-node.js'
import { dialTargets, linkLatency, type TopologyInit } from './topology.js'
import { FRAME_OVERHEAD, PING_BYTES, PING_EVERY_MS, STREAM_OPEN_BYTES, TRAFFIC, type Traffic } from './wire.js'
import type { MeshNet } from './gossipsub.js'

export interface FleetInit {
  seed: number
  nodes: number
  topology: TopologyInit
  /** Jitter added to each message: up to this share of the link's latency, plus up to 1 ms. */
  jitter: number
  antiEntropyMs: number
  graceMs: number
  attestIntervalMs: number
  /** Whether nodes write attestations from the start (`attesting` turns them on later); see run.ts. */
  attest: boolean
  gossip: boolean
  /** Pulls send the hello's short form once in step (murmurd's 3.1.0; core `sync/hello.ts`); false: always the whole hello. */
  shortHellos: boolean
  /** A node pulls from a member whose pull named ops it lacks, 500 ms later, as murmurd does since 3.1.0. */
  claimPulls: boolean
  /** A short hello answered with a vector naming ops the puller lacks brings the whole pull at once, as murmurd's first 3.1.0 did; false: at once for more than `IN_FLIGHT_OPS`, else 500 ms later if gossip has not brought them. */
  digestPullsAtOnce?: boolean
}

const GROUP = 'sim'
const PULL_TIMEOUT_MS = 300_000

export class Fleet {
  readonly sched = new Scheduler()
  readonly nodes: ScaleNode[] = []
  readonly links: Array<Set<number>>
  /** Bytes in + out per node, by traffic, since the last `resetBytes`. */
  bytes: Array<Record<Traffic, number>> = []
  /** Message bytes nodes published (their own ops, before any forwarding), since the last `resetBytes`. */
  published = { gossip: 0, attest: 0 }
  /** Node → partition side; undefined when whole. */
  private sides?: Int8Array
  /** Called when a node's row takes a user op (the writer's own included). */
  onHold: (node: ScaleNode, op: Op) => void = () => {}
  private readonly rng: Rng
  readonly net: MeshNet

  constructor (readonly init: FleetInit) {
    this.rng = new Rng(init.seed)
    const topo = this.rng.fork('topology')
    this.links = Array.from({ length: init.nodes }, () => new Set<number>())
    for (let i = 0; i < init.nodes; i++) {
      for (const j of dialTargets(init.topology, init.nodes, i, topo)) {
        if (this.links[j]?.has(i) === true) continue
        if ((this.links[i]?.size ?? 0) >= init.topology.maxPeers || (this.links[j]?.size ?? 0) >= init.topology.maxPeers) continue
        this.links[i]?.add(j)
        this.links[j]?.add(i)
      }
    }
    this.net = {
      now: () => this.sched.now,
      peers: node => this.peers(node),
      send: (from, to, bytes, traffic, deliver) => {
        this.count(from, to, bytes, traffic)
        this.sched.after(this.delay(from, to), () => { if (this.connected(from, to)) deliver() })
      }
    }
    const keys = new SimKeys(init.seed)
    const rng = this.rng.fork('nodes')
    for (let i = 0; i < init.nodes; i++) {
      const node = new ScaleNode(i, peerId(init.seed, i), {
        sched: this.sched,
        rng: rng.fork(`n${i}`),
        keys,
        net: this.net,
        pull: (puller, server, finished) => { this.pull(puller, server, finished) },
        holds: (n, op) => { this.onHold(n, op) },
        published: (bytes, traffic) => { this.published[traffic] += bytes },
        config: { antiEntropyMs: init.antiEntropyMs, graceMs: init.graceMs, attestIntervalMs: init.attestIntervalMs, gossip: init.gossip }
      })
      node.attest = init.attest
      node.router.routerOf = j => this.nodes[j]?.up === true ? this.nodes[j]?.router : undefined
      this.nodes.push(node)
    }
    this.resetBytes()
  }

  start (): void {
    for (const node of this.nodes) node.start()
    for (const node of this.nodes) for (const peer of this.peers(node.index)) if (peer > node.index) this.connect(node.index, peer)
    this.sched.every([], () => PING_EVERY_MS, () => {
      for (let a = 0; a < this.nodes.length; a++) for (const b of this.peers(a)) this.count(a, b, PING_BYTES, 'ping')
    })
  }

  connected (a: number, b: number): boolean {
    return this.nodes[a]?.up === true && this.nodes[b]?.up === true && this.links[a]?.has(b) === true &&
      (this.sides === undefined || this.sides[a] === this.sides[b])
  }

  peers (node: number): number[] {
    return [...(this.links[node] ?? [])].filter(peer => this.connected(node, peer))
  }

  /** Splits the fleet: `side(i)` for each node; undefined heals, and every pair that can reach again pulls both ways. */
  partition (side: ((i: number) => number) | undefined): void {
    const before = this.sides
    this.sides = side === undefined ? undefined : Int8Array.from(this.nodes, (_, i) => side(i))
    if (before === undefined || side !== undefined) return
    for (let a = 0; a < this.nodes.length; a++) {
      for (const b of this.links[a] ?? []) if (b > a && before[a] !== before[b] && this.connected(a, b)) this.connect(a, b)
    }
  }

  leave (i: number): void {
    this.nodes[i]?.stop()
  }

  /** A node back: it redials its links, and each new connection pulls both ways. */
  rejoin (i: number): void {
    const node = this.nodes[i]
    if (node === undefined || node.up) return
    node.start()
    for (const peer of this.peers(i)) this.connect(i, peer)
  }

  /** Turns every node's attestations on or off. */
  attesting (on: boolean): void {
    for (const node of this.nodes) node.attest = on
  }

  resetBytes (): void {
    this.bytes = this.nodes.map(() => Object.fromEntries(TRAFFIC.map(t => [t, 0])) as Record<Traffic, number>)
    this.published = { gossip: 0, attest: 0 }
  }

  /** A connection comes up after three one-way trips (TCP, noise, multistream-select), then each end pulls from the other. */
  private connect (a: number, b: number): void {
    this.sched.after(3 * this.delay(a, b), () => {
      if (!this.connected(a, b)) return
      this.nodes[a]?.connected(b)
      this.nodes[b]?.connected(a)
    })
  }

  private count (from: number, to: number, bytes: number, traffic: Traffic): void {
    const out = this.bytes[from]
    const into = this.bytes[to]
    if (out !== undefined) out[traffic] += bytes
    if (into !== undefined) into[traffic] += bytes
  }

  private delay (a: number, b: number): number {
    const base = linkLatency(this.init.seed, a, b, this.init.topology.latency)
    return base + this.rng.next() * (base * this.init.jitter + 1)
  }

  /** One pull: a hello after the link's latency, then the server's frames in order, streamed (see `wait`). */
  private pull (puller: ScaleNode, serverIndex: number, finished: () => void): void {
    const server = this.nodes[serverIndex]
    if (server === undefined || !this.connected(puller.index, serverIndex)) return finished()
    const started = this.sched.now
    const alive = (): boolean => this.connected(puller.index, serverIndex) && this.sched.now - started < PULL_TIMEOUT_MS
    const session = new PullSession(puller.replica, { group: GROUP, name: puller.id, peer: server.id, summary: this.init.shortHellos })
    const hello = encodeFrame(session.hello())
    this.count(puller.index, serverIndex, STREAM_OPEN_BYTES + hello.length + FRAME_OVERHEAD, 'ae')
    let frames: Iterator<Frame> | undefined
    let streamed = 0
    const next = (): void => {
      if (!alive()) return finished()
      if (frames === undefined) {
        const hi = decodeFrame(hello)
        if (hi.kind !== 'control' || hi.message.t !== 'hello') return finished()
        if (this.init.claimPulls) server.claimed(puller.index, claimOf(hi.message))
        frames = serve(server.replica, hi.message, { group: GROUP, name: server.id, pageOps: 512, frameBytes: 1024 * 1024 })
      }
      const item = frames.next()
      if (item.done === true) return finished()
      const bytes = encodeFrame(item.value)
      this.count(serverIndex, puller.index, bytes.length + FRAME_OVERHEAD, 'ae')
      // the server streams its frames back to back: the first comes after the link's latency, each next 1 ms after
      // the one before (a frame each after the latency made a pull of one frame per origin take seconds)
      const wait = streamed++ === 0 ? this.delay(serverIndex, puller.index) : 1
      this.sched.after(wait, () => {
        if (!alive()) return finished()
        const step = session.take(decodeFrame(bytes, { maxValueBytes: 1024 * 1024 }))
        puller.progress(serverIndex)
        puller.took(step)
        if (!session.done) return next()
        finished()
        // a short hello's answer named ops it lacks: the whole pull from it, 500 ms later if gossip has not brought them, as murmurd does
        const named = session.result.peerVector
        if (session.result.again !== true || named === undefined) return
        if (this.init.digestPullsAtOnce === true || !inFlight(puller.replica.vector(), named)) puller.connected(serverIndex)
        else puller.claimed(serverIndex, ours => lacks(ours, named))
      })
    }
    this.sched.after(this.delay(puller.index, serverIndex), next)
  }
}

/** A name as long as a libp2p Ed25519 peer ID (52 characters), so every origin costs on the wire what a real one does. */
export function peerId (seed: number, i: number): string {
  return `12D3KooW${createHash('sha256').update(`${seed}:${i}`).digest('base64url').replace(/[-_]/g, 'x').slice(0, 44)}`
}
