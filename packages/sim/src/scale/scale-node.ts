/**
 * A node of the scale model: the real replica over the real in-memory store,
 * run on murmurd's schedule (replication.ts): release and attest every
 * second, collect every min(anti-entropy, grace / 2), pull from a random
 * connected peer every anti-entropy interval ±50 %, from each peer on
 * connecting, and from a gossip sender 500 ms after its ops left a gap. Its
 * own ops are published (encodeOps, chunkByBatch) once written; the fsync
 * before that is a fixed 2 ms here.
 */
import { MemoryStore, PullQueue, Replica, chunkByBatch, decodeOps, encodeOps, isReserved, type Change, type Op, type Received, type VersionVector } from '@murmur/core'
import { createHash } from 'node:crypto'
import type { Rng } from '../rng.js'
import type { Scheduler, Timer } from '../scheduler.js'
import type { SimKeys } from '../keys.js'
import { Router, type MeshNet, type Message } from './gossipsub.js'
import { MESSAGE_OVERHEAD } from './wire.js'

export interface ScaleNodeDeps {
  sched: Scheduler
  rng: Rng
  keys: SimKeys
  net: MeshNet
  /** Starts a pull of `puller` from `server` (the fleet runs its frames). */
  pull: (puller: ScaleNode, server: number, finished: () => void) => void
  /** A user op changed this node's row: it holds that write now. */
  holds: (node: ScaleNode, op: Op) => void
  /** A message of its own published, its bytes on the wire. */
  published: (bytes: number, traffic: 'gossip' | 'attest') => void
  config: { antiEntropyMs: number, graceMs: number, attestIntervalMs: number, gossip: boolean }
}

const FSYNC_MS = 2
const EPOCH = 1_700_000_000_000

export class ScaleNode {
  up = true
  /** Writes its attestations when due (the scale model turns them off where it cannot afford them). */
  attest = true
  readonly replica: Replica
  readonly router: Router
  private readonly pulls: PullQueue
  private timers: Timer[] = []
  private readonly repairs = new Set<number>()
  private readonly asking = new Set<number>()
  private queue: Change[] = []
  private flushing?: Timer
  /** Bumped on each start: a timer set in an earlier life does nothing. */
  private life = 0

  constructor (readonly index: number, readonly id: string, private readonly deps: ScaleNodeDeps) {
    const { sched, keys, config } = deps
    this.replica = new Replica({
      store: new MemoryStore(),
      nodeId: id,
      now: () => EPOCH + sched.now,
      sign: keys.signer(id),
      verify: keys.verify,
      tombstoneGraceMs: config.graceMs,
      attestIntervalMs: config.attestIntervalMs // per origin, the replica's default for the grace, as murmurd
    })
    this.router = new Router(index, deps.net, deps.rng.fork(`router ${index}`), (msg, from) => this.gossip(msg, from), config.gossip)
    this.pulls = new PullQueue({ now: () => sched.now, start: (peer, finished) => { deps.pull(this, Number(peer), finished) } })
  }

  start (): void {
    const { config, sched, rng } = this.deps
    this.up = true
    const life = ++this.life
    const every = (ms: number, fn: () => void, jitter = false): void => {
      sched.every(this.timers, () => jitter ? Math.round(ms * (0.5 + rng.next())) : ms, () => { if (this.up) fn() })
    }
    // each node's timers start at a random phase, as independent processes' do
    sched.after(rng.int(0, 999), () => {
      if (!this.up || life !== this.life) return
      every(1_000, () => { this.second() })
      every(1_000, () => { this.router.heartbeat() })
      every(Math.min(60_000, Math.max(1_000, Math.min(config.antiEntropyMs, config.graceMs / 2))), () => { this.replica.collect() })
      every(config.antiEntropyMs, () => { this.antiEntropy() }, true)
    })
  }

  /** Leaves (its connections drop); its store stays, as a stopped daemon's database does. */
  stop (): void {
    this.up = false
    for (const timer of [...this.timers, this.flushing]) this.deps.sched.cancel(timer)
    this.timers = []
    this.flushing = undefined
    this.queue = []
    this.repairs.clear()
    this.router.reset()
  }

  /** A client's request: committed with whatever else is queued, published 2 ms later (the fsync). */
  write (changes: Change[]): void {
    if (!this.up) return
    this.queue.push(...changes)
    this.flushing ??= this.deps.sched.after(0, () => {
      this.flushing = undefined
      const ops = this.replica.write(this.queue)
      this.queue = []
      if (ops.length === 0) return
      this.deps.sched.after(FSYNC_MS, () => {
        if (!this.up) return
        this.replica.markDurable((ops.at(-1) as Op).seq)
        for (const op of ops) if (!isReserved(op.key)) this.deps.holds(this, op)
        for (const chunk of chunkByBatch(ops, 16 * 1024)) {
          const data = encodeOps(chunk)
          const traffic = chunk.some(op => isReserved(op.key)) ? 'attest' : 'gossip'
          this.deps.published(MESSAGE_OVERHEAD + data.length, traffic)
          this.router.publish({ id: messageId(data), data, traffic })
        }
      })
    })
  }

  connected (peer: number): void {
    this.replica.reconnected(String(peer)) // as murmurd: the pull a connection brings sends the whole hello
    if (this.up) this.pulls.request(String(peer))
  }

  /** Ops a pull step or a gossip message changed: the writes this node now holds. */
  took (received: Pick<Received, 'changed'>): void {
    for (const op of received.changed) if (!isReserved(op.key)) this.deps.holds(this, op)
  }

  progress (server: number): void {
    this.pulls.progress(String(server))
  }

  private gossip (msg: Message, from: number): boolean {
    let ops: Op[]
    try {
      ops = decodeOps(msg.data, { maxValueBytes: 1024 * 1024 })
    } catch {
      return false
    }
    if (ops.length === 0 || ops.some(op => this.replica.check(op) != null)) return false
    const received = this.replica.receive(ops, { via: 'gossip' })
    this.took(received)
    if (received.gap) this.repairSoon(from)
    return true
  }

  private second (): void {
    this.took(this.replica.release())
    const attestation = this.attest ? this.replica.attestation() : undefined
    if (attestation !== undefined) this.write([attestation])
    this.pulls.tick()
  }

  private antiEntropy (): void {
    const peers = this.deps.net.peers(this.index)
    if (peers.length > 0) this.pulls.request(String(this.deps.rng.pick(peers)))
  }

  /** A peer's pull claims to hold more (core's `claimOf`): a pull from it 500 ms later, if this node still lacks it (as murmurd). */
  claimed (peer: number, holdsMore: (ours: VersionVector) => boolean): void {
    if (this.asking.has(peer) || !holdsMore(this.replica.vector())) return
    this.asking.add(peer)
    this.deps.sched.after(500, () => {
      this.asking.delete(peer)
      if (this.up && holdsMore(this.replica.vector())) this.pulls.request(String(peer))
    })
  }

  private repairSoon (peer: number): void {
    if (this.repairs.has(peer)) return
    this.repairs.add(peer)
    this.deps.sched.after(500, () => {
      this.repairs.delete(peer)
      if (this.up && this.replica.waiting > 0) this.pulls.request(String(peer)) // as murmurd: none once gossip filled the gap
    })
  }
}

/** gossipsub's message ID under StrictNoSign: the SHA-256 of the data. */
export function messageId (data: Uint8Array): string {
  return createHash('sha256').update(data).digest('base64')
}
