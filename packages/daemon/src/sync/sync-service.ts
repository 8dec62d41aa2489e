/**
 * Pull-based catch-up over a dedicated libp2p stream protocol (never gossip),
 * as a thin adapter: the replica's sync state machines decide what to ask
 * for, what to take and what to serve; this moves their frames over
 * length-prefixed streams (framed.ts: backpressure both ways, the event loop
 * let go between frames) with deadlines.
 *
 * Whenever a peer that speaks the protocol connects, this node pulls from it
 * (and the peer from us). Pulls wait in core's `PullQueue`: one at a time,
 * except that one that brings under 16 KiB of new data in two seconds (a
 * peer that trickles) stops holding back the next, and, while every slot is
 * taken and a pull waits, the one that brought least lately is ended.
 */
import { setMaxListeners } from 'node:events'
import { PullQueue, PullSession, SYNC_PROTOCOL, claimOf, inFlight, lacks, SYNC_PROTOCOL_3_0, SYNC_PROTOCOL_3_1, SyncProtocolError, SyncRejectedError, decodeFrame, encodeFrame, serve, servedVector, summarize, type PullResult, type PullStep, type Replica, type VersionVector } from '@murmur/core'
import type { Connection, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Logger } from 'pino'
import { STALL_MS, framed } from './framed.js'
import { partialFrameOf } from './partial-frame.js'
import { bytesMovedOf, bytesReadOf } from '../tcp-sent.js'
import { PeerStates } from './peer-states.js'
import { MAX_SERVES, ServeSlots } from './serve-slots.js'

/** The sync protocols served and dialled, newest first: a pull speaks the newest both sides do. */
const PROTOCOLS = [SYNC_PROTOCOL, SYNC_PROTOCOL_3_1, SYNC_PROTOCOL_3_0]

/** What this node knows of one peer's replication state. */
export interface PeerSyncState {
  name?: string
  lastSyncAt?: number
  lastSyncOps?: number
  lastError?: string
  /** What the peer last said it holds (its own word: for status only); once it has left, of the origins this node held then. */
  vector?: VersionVector
  /** The peer's clock minus ours, in ms. */
  clockOffsetMs?: number
}

export interface SyncInit {
  group: string
  name: string
  replica: Replica
  /** A frame of a pull from `peer` was taken. */
  onStep(step: PullStep, peer: PeerId): void
  /** A pull from `peer` ended; `reason` is the one it was asked for with. */
  onResult(result: PullResult, peer: PeerId, reason: string): void
  /**
   * A member said what it holds (its own word): `holdsMore(ours)` tells
   * whether that is more than `ours` (core's `claimOf`). `reason` is `claim`
   * when it said so pulling from this node, `digest` when it answered a
   * short hello with a vector naming more.
   */
  onClaim?(holdsMore: (ours: VersionVector) => boolean, peer: PeerId, reason: 'claim' | 'digest'): void
  /** A peer proved it belongs to our group. */
  onMember(peer: PeerId, name: string): void
  /** A peer showed it is not of our group: its hello named another, or it refused ours. */
  onStranger?(peer: PeerId): void
  /** A pull ended (for the metrics): why it started, how it ended, how long it took. */
  onPulled?(reason: string, outcome: 'ok' | 'aborted' | 'failed', seconds: number): void
  log: Logger
  maxValueBytes: number
  /** Ops read from the store per page. @default 512 */
  pageOps?: number
  /** Payload bytes per frame, before encoding. @default 1 MiB */
  frameBytes?: number
  /** Give up on a pull that takes longer than this. @default 300_000 */
  timeoutMs?: number
  /** A pull whose frames bring nothing new for this long ends (core's `PullInit.staleMs`). @default `STALE_MS` (30 s) */
  staleMs?: number
  /** A stream whose peer sends nothing while awaited for this long fails, and a serve whose puller takes less than 64 KiB in it (`take-floor.ts`); a serve's hello must come whole within it (`framed.ts`). @default `STALL_MS` (20 s) */
  stallMs?: number
}

export interface SyncComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
}

export class SyncService implements Startable {
  private readonly components: SyncComponents
  private readonly init: SyncInit
  private readonly maxFrameBytes: number
  private readonly queue: PullQueue
  private readonly targets = new Map<string, PeerId>()
  private readonly reasons = new Map<string, string>()
  /** Members pulled from as their connection opened, until identify's `onConnect` for them. */
  private readonly opened = new Set<string>()
  private readonly states = new PeerStates(() => new Set(this.components.connectionManager.getConnections().map(c => c.remotePeer.toString())))
  private readonly shutdown = new AbortController()
  private readonly serves = new ServeSlots()
  private topologyId?: string

  constructor (components: SyncComponents, init: SyncInit) {
    this.components = components
    this.init = init
    this.maxFrameBytes = Math.max(init.frameBytes ?? 1024 * 1024, init.maxValueBytes) + 64 * 1024
    this.queue = new PullQueue({ now: Date.now, start: (peer, finished, ending) => { this.run(peer, ending).finally(finished) } })
  }

  async start (): Promise<void> {
    // one handler for all: a 3.0.0 puller never sends the short hello, nor one before 3.2.0 `rows`, and each is answered as before;
    // 16 streams a connection in all, as when there were two versions (a pull is one stream; a peer pulls once at a time)
    for (const protocol of PROTOCOLS) {
      await this.components.registrar.handle(protocol, (stream, connection) => {
        this.answer(stream, connection).catch(err => {
          this.init.log.debug({ peer: connection.remotePeer.toString(), err }, 'sync serve failed')
          stream.abort(err)
        })
      }, { maxInboundStreams: protocol === SYNC_PROTOCOL ? 8 : 4 })
    }
    // a member speaks 3.0.0 at least (this one and those before the short hello)
    this.topologyId = await this.components.registrar.register(SYNC_PROTOCOL_3_0, {
      onConnect: peer => {
        // a member pulled from as its connection opened: identify, which calls this, adds nothing
        if (this.opened.delete(peer.toString())) return
        this.pullInBackground(peer, 'connect')
      }
    })
  }

  async stop (): Promise<void> {
    this.shutdown.abort()
    if (this.topologyId != null) this.components.registrar.unregister(this.topologyId)
    for (const protocol of PROTOCOLS) await this.components.registrar.unhandle(protocol)
  }

  /** Asks for a pull from `peer`; concurrent requests coalesce into one more run. */
  pullInBackground (peer: PeerId, reason: string): void {
    if (this.shutdown.signal.aborted) return
    this.targets.set(peer.toString(), peer)
    this.reasons.set(peer.toString(), reason)
    this.queue.request(peer.toString())
  }

  /**
   * A connection to `peer`, a member (it speaks this protocol), has opened:
   * pulls at once, not after identify says so (~50 ms later on 127.0.0.1,
   * a round trip and more elsewhere), which then asks for no second pull.
   */
  pullOnOpen (peer: PeerId): void {
    if (this.opened.size >= 1024) this.opened.clear()
    this.opened.add(peer.toString())
    this.pullInBackground(peer, 'connect')
  }

  /**
   * `peer`'s last connection closed: of what it said it holds, only the
   * origins this node holds stay, all that status compares a peer that left
   * with. A hello may name thousands of others (a frame's worth), and what
   * this node keeps of a peer stays after it leaves: kept whole, 60 peers
   * that each pulled once grew murmurd's RSS by 86 MiB.
   */
  left (peer: PeerId): void {
    const state = this.peers.get(peer.toString())
    if (state?.vector === undefined) return
    const kept: VersionVector = {}
    for (const origin of Object.keys(this.init.replica.vector())) if (Object.hasOwn(state.vector, origin)) kept[origin] = state.vector[origin] ?? 0
    state.vector = kept
  }

  /** Lets queued pulls start beside stalled ones; call every second or so. */
  tick (): void {
    this.queue.tick()
  }

  /** `ending`: the queue ends this pull for a waiting one (it brought least lately while every slot was taken). */
  private async run (id: string, ending: AbortSignal): Promise<void> {
    const peer = this.targets.get(id)
    const reason = this.reasons.get(id) ?? 'request'
    if (peer == null || this.shutdown.signal.aborted) return
    const started = Date.now()
    const seconds = (): number => (Date.now() - started) / 1000
    try {
      const result = await this.pullOnce(peer, ending)
      Object.assign(this.peerState(peer), { lastSyncAt: Date.now(), lastSyncOps: result.applied, lastError: result.aborted })
      this.init.onPulled?.(reason, result.aborted != null ? 'aborted' : 'ok', seconds())
      this.init.onResult(result, peer, reason)
      // a short hello's answer named ops this node lacks: the whole pull from it, at once for more than gossip
      // could still be carrying; for fewer, only if gossip has not brought them (under writes it nearly always has)
      const named = result.peerVector
      if (result.again === true && named != null) {
        if (inFlight(this.init.replica.vector(), named)) this.init.onClaim?.(ours => lacks(ours, named), peer, 'digest')
        else this.pullInBackground(peer, 'digest')
      }
      // a snapshot declined before its rows (the ops after them are still to come), or one a pull without rows would now take
      if (result.declined === true) this.pullInBackground(peer, 'declined')
      else if (result.wanted === true) this.pullInBackground(peer, 'wanted')
      this.init.log.info({ peer: id, ops: result.applied, ms: Date.now() - started, reason, ...(result.snapshot ? { snapshot: true } : {}), ...(result.rechecked > 0 ? { rechecked: result.rechecked } : {}), ...(result.aborted != null ? { aborted: result.aborted } : {}) }, 'synced from peer')
    } catch (err) {
      // identify's onConnect, should it come yet, pulls again
      this.opened.delete(id)
      this.peerState(peer).lastError = (err as Error).message
      this.init.onPulled?.(reason, 'failed', seconds())
      if (err instanceof SyncRejectedError) this.init.onStranger?.(peer)
      const level = err instanceof SyncRejectedError ? 'info' : 'warn'
      this.init.log[level]({ peer: id, reason, err: (err as Error).message }, 'sync from peer failed')
    }
  }

  private async pullOnce (peer: PeerId, ending: AbortSignal): Promise<PullResult> {
    const signal = AbortSignal.any([this.deadline(), ending])
    const stream = await this.components.connectionManager.openStream(peer, PROTOCOLS, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })
    // a peer that stops answering (a partition, a dead connection) fails the pull after the stall wait, not the deadline
    const connection = this.components.connectionManager.getConnections(peer).find(c => c.streams.includes(stream))
    const lp = framed(stream, this.maxFrameBytes, this.init.stallMs, partialFrameOf(connection, stream))
    const session = new PullSession(this.init.replica, { group: this.init.group, name: this.init.name, peer: peer.toString(), summary: stream.protocol !== SYNC_PROTOCOL_3_0, declines: stream.protocol === SYNC_PROTOCOL, staleMs: this.init.staleMs })
    try {
      const sentAt = Date.now()
      await lp.write(encodeFrame(session.hello()), { signal })
      let first = true
      while (!session.done) {
        // before the server's hello, the connection moving is news: this node's hello may be queued behind its own pages to the peer
        const bytes = await lp.read(first && connection !== undefined ? { signal, connectionRead: () => bytesMovedOf(connection) } : { signal })
        const frame = decodeFrame(bytes, { maxValueBytes: this.init.maxValueBytes })
        const step = session.take(frame)
        // a frame that brought nothing (a trickle of empty ones), or little, does not keep this pull ahead of the next (hole 9)
        if (step.delivered) this.queue.progress(peer.toString(), frame.kind === 'control' ? Infinity : bytes.byteLength * step.fresh / Math.max(1, step.received.length))
        if (first) this.greeted(peer, session.result, sentAt)
        first = false
        this.init.onStep(step, peer)
      }
      // a stale pull, or one that declined a snapshot, stops the server's stream rather than waiting for the rest of it
      if (session.result.stale === true) stream.abort(new Error('pull ended: the server was sending nothing this node lacks'))
      else if (session.result.declined === true) stream.abort(new Error('pull ended: this node declined the snapshot'))
      else await stream.close({ signal })
      return session.result
    } catch (err) {
      stream.abort(err as Error)
      // what it brought is kept, and the queue asks it again after the pulls that waited
      if (ending.aborted) return { ...session.result, aborted: 'ended for a waiting pull: it brought least lately while every pull slot was taken' }
      throw err
    }
  }

  /** The server's hello arrived: its name, its clock, what it says it holds. */
  private greeted (peer: PeerId, result: PullResult, sentAt: number): void {
    if (result.peerName == null) return
    this.init.onMember(peer, result.peerName)
    const state = this.peerState(peer)
    state.name = result.peerName
    if (result.peerVector != null) state.vector = result.peerVector
    if (result.peerNow != null) state.clockOffsetMs = result.peerNow - Math.round((sentAt + Date.now()) / 2)
  }

  private async answer (stream: Stream, connection: Connection): Promise<void> {
    const signal = this.deadline()
    const lp = framed(stream, this.maxFrameBytes, this.init.stallMs, partialFrameOf(connection, stream))
    // whole within the stall wait of its first byte: a puller that sent all but a byte of a frame-sized hello, then a byte every
    // few seconds, held the stream and the bytes for the pull's deadline (the serve cap counts serves, which begin after the hello).
    // Before its first byte, more than a trickle on the connection is news: a puller serving this node over a slow link queues its
    // hello behind its pages
    const frame = decodeFrame(await lp.read({ signal, withinMs: this.init.stallMs ?? STALL_MS, connectionRead: () => bytesReadOf(connection) }), { maxValueBytes: this.init.maxValueBytes })
    if (frame.kind !== 'control' || frame.message.t !== 'hello') throw new SyncProtocolError('expected hello')
    const hello = frame.message
    if (hello.group === this.init.group) {
      this.init.onMember(connection.remotePeer, hello.name)
      // a short hello names no vector: one with this node's digest says the peer holds what this node serves; another, its last one stands
      const served = hello.summary !== undefined ? servedVector(this.init.replica) : undefined
      const vector = served === undefined ? hello.vector : summarize(served) === hello.summary ? served : undefined
      Object.assign(this.peerState(connection.remotePeer), { name: hello.name, clockOffsetMs: hello.now - Date.now(), ...(vector !== undefined ? { vector } : {}) })
      this.init.onClaim?.(claimOf(hello), connection.remotePeer, 'claim')
    } else {
      this.init.onStranger?.(connection.remotePeer)
    }
    const slot = this.serves.take(() => { stream.abort(new Error(`serve ended for a newer one: this node serves at most ${MAX_SERVES} pulls at once, and this puller took a frame longest ago`)) })
    try {
      for (const out of serve(this.init.replica, hello, { group: this.init.group, name: this.init.name, pageOps: this.init.pageOps, frameBytes: this.init.frameBytes })) {
        await lp.write(encodeFrame(out), { signal })
        slot.progressed()
      }
      await stream.close({ signal })
    } finally {
      slot.release()
    }
  }

  /** A signal for one sync: aborted on stop or after the timeout. Each pending read or write of a long sync listens on it. */
  private deadline (): AbortSignal {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.timeoutMs ?? 300_000)])
    setMaxListeners(Infinity, signal)
    return signal
  }

  /** What this node knows of each peer's replication state (bounded: see peer-states.ts). */
  get peers (): ReadonlyMap<string, PeerSyncState> {
    return this.states.all()
  }

  private peerState (peer: PeerId): PeerSyncState {
    return this.states.of(peer.toString())
  }
}

export function murmurSync (init: SyncInit): (components: SyncComponents) => SyncService {
  return components => new SyncService(components, init)
}
