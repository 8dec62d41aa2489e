/**
 * The simulated network: who can reach whom (nodes up, partitions), gossip
 * that is delayed, dropped, duplicated and reordered and forwarded as
 * gossipsub forwards it, and sync streams whose frames arrive in order, one
 * at a time (backpressure), slowly from a peer that trickles, and that break
 * when either end goes down or a partition cuts them. Everything is decided
 * by the world's seed. Frames and messages travel as bytes, through the same
 * encoders and decoders as on real wires. With a topology, a node may also
 * dial a member beyond it (`visit`), as murmurd's `PeerDialer.visit` does.
 */
import { createHash } from 'node:crypto'
import { PullSession, SyncProtocolError, SyncRejectedError, decodeFrame, encodeFrame, type Frame, type PullResult, type PullStep } from '@murmur/core'
import type { Rng } from './rng.js'
import type { Scheduler } from './scheduler.js'

export const GROUP = 'sim'
/** A sync stream with no frame for this long is aborted (as murmurd's is). */
export const STREAM_IDLE_MS = 20_000
/** The budget an honest node serves sync frames within; a larger frame (but one op alone) is refused, as murmurd's receiver does. */
export const FRAME_BYTES = 16 * 1024
const PULL_TIMEOUT_MS = 300_000

export type Verdict = 'accept' | 'reject' | 'ignore'

/** Anything on the network: an honest node or the hostile one. */
export interface Endpoint {
  readonly id: string
  readonly up: boolean
  /** Changes on every restart, so a stream from an earlier life breaks. */
  readonly incarnation: number
  /** The hostile member: it may break the protocol; an honest node that does is a bug. */
  readonly hostile?: boolean
  /** A gossip message arrived; its verdict decides whether it is forwarded. */
  gossip(bytes: Uint8Array, from: string): Verdict
  /** Serves a sync: the frames to send for `hello`, produced lazily. */
  serve(hello: Frame, puller: string): Iterator<Frame>
  /** Extra delay before each frame it serves (a peer that trickles). */
  frameDelay(): number
  /** `peer` became reachable. */
  connected(peer: string): void
}

/** An endpoint that pulls: the receiving side of a sync. */
export interface Puller extends Endpoint {
  session(server: string): PullSession
  /** `snapshot`: the session has taken a snapshot (it settles with the first frame after the import stage): the puller's history is incomplete from then on, whether or not the pull ends. */
  pulled(step: PullStep, server: string, snapshot: boolean): void
  pullEnded(result: PullResult, server: string): void
  /** A frame of its pull from `server` moved it on, bringing `bytes` of new data (see core's `PullQueue.progress`). */
  progress(server: string, bytes?: number): void
}

export class Network {
  private readonly sched: Scheduler
  private readonly rng: Rng
  private readonly endpoints = new Map<string, Endpoint>()
  private readonly seen = new Map<string, Set<string>>()
  private readonly net: { latency: [number, number], drop: number, dup: number }
  /** Node → partition group; undefined when the network is whole. */
  private groups?: Map<string, number>
  /** Links that are down ("a\nb", a < b), however the partitions stand. */
  private readonly cuts = new Set<string>()
  /** The only links there are ("a\nb", a < b), when nodes dial a few others only (`Scenario.links`); otherwise every pair. */
  topology?: Set<string>
  /**
   * Links opened beyond the topology by `visit` ("a\nb", a < b): open until they break (either end down, a
   * partition or a cut between them), as murmurd's dialled connection is until its pings fail; nothing redials one.
   */
  private readonly visits = new Set<string>()
  /** Visits under way ("from\nto"): murmurd's dialer starts none to a peer it is dialling. */
  private readonly dialing = new Set<string>()
  /** Faults are on until this (virtual ms); then nothing is dropped. */
  faultsUntil = 0
  /** Pairs that could reach each other after the last change. */
  private reachable = new Set<string>()
  /** `visits`: links opened by `visit`. `snapshotsCut`: pulls that had begun a snapshot and broke off before their end (the puller's history is incomplete all the same). */
  /** `rows`: ops of snapshot rows (import frames) that reached a puller. */
  readonly stats = { gossip: 0, dropped: 0, duplicated: 0, frames: 0, rows: 0, streamsBroken: 0, snapshotsCut: 0, visits: 0 }
  /** An exception that is no protocol error: a bug, reported as a failure of the run. */
  private readonly bug: (where: string, err: unknown) => void

  constructor (sched: Scheduler, rng: Rng, net: { latency: [number, number], drop: number, dup: number }, bug: (where: string, err: unknown) => void) {
    this.sched = sched
    this.rng = rng
    this.net = net
    this.bug = bug
  }

  add (endpoint: Endpoint): void {
    this.endpoints.set(endpoint.id, endpoint)
  }

  ids (): string[] {
    return [...this.endpoints.keys()]
  }

  canReach (a: string, b: string): boolean {
    const link = pair(a, b)
    return this.open(a, b) && (this.topology === undefined || this.topology.has(link) || this.visits.has(link))
  }

  /** Whether a dial from `a` to `b` would succeed: both up, no partition or cut between them (links aside). */
  private open (a: string, b: string): boolean {
    const x = this.endpoints.get(a)
    const y = this.endpoints.get(b)
    if (x === undefined || y === undefined || !x.up || !y.up || a === b || this.cuts.has(pair(a, b))) return false
    return this.groups === undefined || this.groups.get(a) === this.groups.get(b)
  }

  /**
   * `from` dials `to` once, beyond the topology (murmurd's `PeerDialer.visit`, for a recheck no link can make):
   * nothing if they reach each other already, a dial is under way, or there is no topology (every pair is linked,
   * so a peer not reached cannot be dialled either). A dial that cannot succeed fails at once, with no draw; one
   * that can opens the link a latency later, if `from` is still in the same life and the two can still reach each
   * other, and each end then pulls from the other as on any new link.
   */
  visit (from: string, to: string): void {
    const dial = `${from}\n${to}`
    if (this.topology === undefined || this.canReach(from, to) || this.dialing.has(dial) || !this.open(from, to)) return
    this.dialing.add(dial)
    const life = this.endpoints.get(from)?.incarnation
    this.sched.after(this.latency(), () => {
      this.dialing.delete(dial)
      if (this.endpoints.get(from)?.incarnation !== life || !this.open(from, to) || this.canReach(from, to)) return
      this.visits.add(pair(from, to))
      this.stats.visits++
      this.changed()
    })
  }

  peersOf (id: string): string[] {
    return this.ids().filter(other => this.canReach(id, other))
  }

  partition (groups: string[][] | undefined): void {
    this.groups = groups === undefined ? undefined : new Map(groups.flatMap((group, i) => group.map(id => [id, i] as [string, number])))
    this.changed()
  }

  /** Cuts (`down`) or restores the links between these pairs. */
  cut (pairs: Array<[string, string]>, down: boolean): void {
    for (const [a, b] of pairs) {
      if (down) this.cuts.add(pair(a, b))
      else this.cuts.delete(pair(a, b))
    }
    this.changed()
  }

  /** Connectivity may have changed (a partition, a node up or down): newly reachable pairs connect, and each pulls from the other. */
  changed (): void {
    for (const link of this.visits) {
      const [a, b] = link.split('\n') as [string, string]
      if (!this.open(a, b)) this.visits.delete(link)
    }
    const now = new Set<string>()
    for (const a of this.ids()) for (const b of this.ids()) if (a < b && this.canReach(a, b)) now.add(pair(a, b))
    for (const link of now) {
      if (this.reachable.has(link)) continue
      const [a, b] = link.split('\n') as [string, string]
      this.sched.after(this.latency(), () => {
        if (!this.canReach(a, b)) return
        this.endpoints.get(a)?.connected(b)
        this.endpoints.get(b)?.connected(a)
      })
    }
    this.reachable = now
  }

  /** Publishes a gossip message from `from` to every peer it reaches (and on, as each accepts it). */
  publish (from: string, bytes: Uint8Array, only?: string[]): void {
    const id = createHash('sha256').update(bytes).digest('hex').slice(0, 24)
    this.markSeen(from, id)
    for (const peer of only ?? this.peersOf(from)) this.send(from, peer, bytes, id)
  }

  private send (from: string, to: string, bytes: Uint8Array, id: string): void {
    const faulty = this.sched.now < this.faultsUntil
    if (faulty && this.rng.chance(this.net.drop)) {
      this.stats.dropped++
      return
    }
    const copies = faulty && this.rng.chance(this.net.dup) ? 2 : 1
    if (copies === 2) this.stats.duplicated++
    for (let i = 0; i < copies; i++) {
      this.sched.after(this.latency(), () => {
        if (!this.canReach(from, to)) return
        this.stats.gossip++
        if (!this.markSeen(to, id)) return
        const verdict = this.endpoints.get(to)?.gossip(bytes, from)
        if (verdict !== 'accept') return
        for (const next of this.peersOf(to)) if (next !== from) this.send(to, next, bytes, id)
      })
    }
  }

  /** Whether `node` sees message `id` for the first time (and notes that it has). Gossipsub's seen-cache. */
  private markSeen (node: string, id: string): boolean {
    let seen = this.seen.get(node)
    if (seen === undefined) this.seen.set(node, (seen = new Set()))
    if (seen.has(id)) return false
    seen.add(id)
    return true
  }

  /** Forgets what a node has seen (it restarted with an empty seen-cache). */
  forget (node: string): void {
    this.seen.delete(node)
  }

  /** Runs one pull of `puller` from `serverId`; `finished` is called once, however it ends; `ending` ends it early (the pull queue's, as murmurd's). */
  pull (puller: Puller, serverId: string, finished: () => void, ending?: AbortSignal): void {
    const server = this.endpoints.get(serverId)
    if (server === undefined || !this.canReach(puller.id, serverId)) {
      finished()
      return
    }
    const lives = [puller.incarnation, server.incarnation]
    const alive = (): boolean => this.canReach(puller.id, serverId) && puller.incarnation === lives[0] && server.incarnation === lives[1]
    const session = puller.session(serverId)
    const started = this.sched.now
    let frames: Iterator<Frame> | undefined
    let over = false
    // a snapshot the puller decided on settles with the first frame after the import stage (ops, witnesses or done)
    let tookSnapshot = false
    const end = (result?: PullResult): void => {
      if (over) return
      over = true
      if (result !== undefined) puller.pullEnded(result, serverId)
      else {
        this.stats.streamsBroken++
        if (tookSnapshot) this.stats.snapshotsCut++
      }
      finished()
    }
    const hello = encodeFrame(session.hello())
    const next = (): void => {
      if (ending?.aborted === true) return end({ ...session.result, aborted: 'ended for a waiting pull' })
      if (!alive() || this.sched.now - started > PULL_TIMEOUT_MS) return end()
      let item: IteratorResult<Frame>
      try {
        frames ??= server.serve(decodeFrame(hello), puller.id)
        item = frames.next()
      } catch (err) {
        this.bug(`${serverId} serving ${puller.id}`, err)
        return end()
      }
      if (item.done === true) return end()
      const bytes = encodeFrame(item.value)
      if (bytes.length > FRAME_BYTES && (item.value.kind === 'control' || item.value.ops.length > 1)) {
        if (server.hostile !== true) this.bug(`${serverId} serving ${puller.id}`, new Error(`a ${item.value.kind} frame of ${bytes.length} bytes, over the ${FRAME_BYTES}-byte budget`))
        return end()
      }
      const delay = this.latency() + server.frameDelay()
      if (delay > STREAM_IDLE_MS) {
        this.sched.after(STREAM_IDLE_MS, () => { end() })
        return
      }
      this.sched.after(delay, () => {
        if (over || !alive()) return end()
        this.stats.frames++
        if (item.value.kind === 'import') this.stats.rows += item.value.ops.length
        let step: PullStep
        let frame: Frame
        try {
          frame = decodeFrame(bytes, { maxValueBytes: 1024 * 1024 })
          step = session.take(frame)
        } catch (err) {
          // a peer breaking the protocol (the hostile one) ends the pull; anything else is a bug, as is an honest one breaking it
          if (!(err instanceof SyncProtocolError || err instanceof SyncRejectedError || isDiskFull(err)) || (err instanceof SyncProtocolError && server.hostile !== true)) this.bug(`${puller.id} pulling from ${serverId}`, err)
          return end()
        }
        if (step.delivered) puller.progress(serverId, frame.kind === 'control' ? Infinity : bytes.length * step.fresh / Math.max(1, step.received.length))
        tookSnapshot ||= session.result.snapshot && (frame.kind === 'ops' || frame.kind === 'witness' || (frame.kind === 'control' && frame.message.t === 'done'))
        puller.pulled(step, serverId, tookSnapshot)
        if (session.done) end(session.result)
        else next()
      })
    }
    this.sched.after(this.latency(), next)
  }

  private latency (): number {
    const [low, high] = this.net.latency
    return this.rng.int(low, high)
  }
}

/** A link's key: its two ends, in order. */
const pair = (a: string, b: string): string => a < b ? `${a}\n${b}` : `${b}\n${a}`

/** The store refused a commit (a simulated full disk): the pull fails, and nothing of it counts. */
export function isDiskFull (err: unknown): boolean {
  return (err as { code?: unknown }).code === 'SQLITE_FULL'
}
