/**
 * Pull-based catch-up over a dedicated libp2p stream protocol (never gossip).
 *
 * Whenever a peer that speaks the protocol connects, this node pulls from it:
 * it sends its version vector and receives, in bounded pages with
 * backpressure, only the ops it lacks. Both ends do this, so a connection
 * leaves each side with everything the other had. `pull()` is also the
 * repair hook for anti-entropy: call it whenever a gap is suspected.
 */
import { setMaxListeners } from 'node:events'
import { lpStream } from '@libp2p/utils'
import { SYNC_PROTOCOL, SyncProtocolError, decodeFrame, encodeControl, encodeOpsFrame, type ControlMessage, type DecodeLimits } from './messages.js'
import type { MissingCursor, MissingOptions, MissingPage, Op, VersionVector } from '@murmur/core'
import type { Connection, PeerId, Startable, Stream } from '@libp2p/interface'
import type { ConnectionManager, Registrar } from '@libp2p/interface-internal'
import type { Logger } from 'pino'

/** The part of a replica that sync reads. */
export interface SyncReplica {
  vector(): VersionVector
  gcVector(): VersionVector
  missing(theirs: VersionVector, options: MissingOptions): MissingPage
  mergeVector(theirs: VersionVector): void
}

/** Whether `vector` lacks ops that `gcVector` says were collected: its holder must resync from a snapshot. */
export function isBehindGc (vector: VersionVector, gcVector: VersionVector): boolean {
  return Object.entries(gcVector).some(([origin, seq]) => (Object.hasOwn(vector, origin) ? vector[origin] ?? 0 : 0) < seq)
}

/** What applying a page did: ops stamped too far ahead are held, not applied; others are refused. */
export interface ApplyOutcome {
  applied: number
  held: Op[]
  /** Ops refused by policy (an origin not allowed to write) or for a bad signature. */
  refused: Op[]
  /** How many of the refused had a missing or bad signature: the sender relayed forgeries. */
  forged: number
}

/** What this node knows of one peer's replication state. */
export interface PeerSyncState {
  name?: string
  lastSyncAt?: number
  lastSyncOps?: number
  lastError?: string
  /** The peer's latest known version vector (from its pull, or from our pull's `done`). */
  vector?: VersionVector
  /** The peer's clock minus ours, in ms. */
  clockOffsetMs?: number
}

export interface SyncInit {
  group: string
  name: string
  replica: SyncReplica
  /** Applies ops received from `from` (merge + change events). */
  apply(ops: Op[], from: PeerId): ApplyOutcome
  /** Called when a peer proves it belongs to our group. */
  onMember(peer: PeerId, name: string): void
  /** After a snapshot from `peer`: drop rows it lacked though it had seen them, adopt its vectors. */
  resync(peer: PeerId, present: Set<string>, vector: VersionVector, gcVector: VersionVector): void
  log: Logger
  maxValueBytes: number
  /** Ops read from the store per page. @default 512 */
  pageOps?: number
  /** Payload bytes per frame, before encoding. @default 1 MiB */
  frameBytes?: number
  /** Give up on a pull that takes longer than this. @default 300_000 */
  timeoutMs?: number
}

export interface SyncComponents {
  registrar: Registrar
  connectionManager: ConnectionManager
}

export interface SyncResult {
  peer: string
  ops: number
  ms: number
}

/** A sync stream with no traffic for this long is aborted. */
const STREAM_IDLE_MS = 20_000

export class SyncRejectedError extends Error {
  static override name = 'SyncRejectedError'
  override name = 'SyncRejectedError'
}

interface PullState {
  again: boolean
  done: Promise<SyncResult>
}

export class SyncService implements Startable {
  private readonly components: SyncComponents
  private readonly init: SyncInit
  private readonly limits: DecodeLimits
  private readonly maxFrameBytes: number
  private readonly pulls = new Map<string, PullState>()
  readonly peers = new Map<string, PeerSyncState>()
  private queue: Promise<unknown> = Promise.resolve()
  private readonly shutdown = new AbortController()
  private topologyId?: string

  constructor (components: SyncComponents, init: SyncInit) {
    this.components = components
    this.init = init
    this.limits = { maxValueBytes: init.maxValueBytes }
    this.maxFrameBytes = Math.max(init.frameBytes ?? 1024 * 1024, init.maxValueBytes) + 64 * 1024
  }

  async start (): Promise<void> {
    await this.components.registrar.handle(SYNC_PROTOCOL, (stream, connection) => {
      this.serve(stream, connection).catch(err => {
        this.init.log.debug({ peer: connection.remotePeer.toString(), err }, 'sync serve failed')
        stream.abort(err)
      })
    }, { maxInboundStreams: 8 })
    this.topologyId = await this.components.registrar.register(SYNC_PROTOCOL, {
      onConnect: peer => { this.pullInBackground(peer, 'connect') }
    })
  }

  async stop (): Promise<void> {
    this.shutdown.abort()
    if (this.topologyId != null) this.components.registrar.unregister(this.topologyId)
    await this.components.registrar.unhandle(SYNC_PROTOCOL)
  }

  /** Pulls what `peer` has and we lack; concurrent calls coalesce into one more run. */
  async pull (peer: PeerId): Promise<SyncResult> {
    const key = peer.toString()
    const running = this.pulls.get(key)
    if (running != null) {
      running.again = true
      return await running.done
    }
    const state: PullState = { again: false, done: Promise.resolve({ peer: key, ops: 0, ms: 0 }) }
    state.done = (async () => {
      try {
        let result: SyncResult
        do {
          state.again = false
          result = await this.serially(async () => await this.pullOnce(peer))
        } while (state.again)
        return result
      } finally {
        this.pulls.delete(key)
      }
    })()
    this.pulls.set(key, state)
    return await state.done
  }

  /**
   * One pull at a time, across peers: a node that reconnects to several
   * peers at once would otherwise receive everything it missed from each of
   * them; in turn, each later pull starts from the vector the earlier raised.
   */
  private async serially<T> (pull: () => Promise<T>): Promise<T> {
    const run = this.queue.then(pull, pull)
    this.queue = run.catch(() => {})
    return await run
  }

  pullInBackground (peer: PeerId, reason: string): void {
    this.pull(peer).then(
      result => { this.init.log.info({ ...result, reason }, 'synced from peer') },
      err => {
        this.peerState(peer).lastError = err.message
        const level = err instanceof SyncRejectedError ? 'info' : 'warn'
        this.init.log[level]({ peer: peer.toString(), reason, err: err.message }, 'sync from peer failed')
      }
    )
  }

  private async pullOnce (peer: PeerId): Promise<SyncResult> {
    const started = Date.now()
    const signal = this.deadline()
    const stream = await this.components.connectionManager.openStream(peer, SYNC_PROTOCOL, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })
    // a peer that stops answering (a partition, a dead connection) must not hold up later pulls
    stream.inactivityTimeout = STREAM_IDLE_MS
    const lp = lpStream(stream, { maxDataLength: this.maxFrameBytes })
    const read = async (): Promise<ReturnType<typeof decodeFrame>> => decodeFrame((await lp.read({ signal })).subarray(), this.limits)
    try {
      const sentAt = Date.now()
      await lp.write(encodeControl({ t: 'hello', group: this.init.group, name: this.init.name, now: sentAt, vector: this.init.replica.vector() }), { signal })
      const hello = expectControl(await read(), 'hello')
      if (hello.t === 'reject') throw new SyncRejectedError(`peer refused sync: ${hello.reason}`)
      if (hello.t !== 'hello' || hello.group !== this.init.group) throw new SyncProtocolError('peer answered for another group')
      this.init.onMember(peer, hello.name)
      const state = this.peerState(peer)
      Object.assign(state, { name: hello.name, clockOffsetMs: hello.now - Math.round((sentAt + Date.now()) / 2) })
      if (hello.vector != null && isBehindGc(hello.vector, this.init.replica.gcVector())) {
        // its rows may include values deleted here whose tombstones are gone: it resyncs from our snapshot first
        throw new SyncRejectedError('peer is behind what this node has garbage-collected; it must resync from our snapshot first')
      }
      let ops = 0
      let forged = 0
      const heldFrom = new Map<string, number>()
      const present = hello.snapshot === true ? new Set<string>() : undefined
      while (true) {
        const frame = await read()
        if (frame.kind === 'ops') {
          for (const op of frame.ops) present?.add(op.key)
          const outcome = this.init.apply(frame.ops, peer)
          ops += outcome.applied
          forged += outcome.forged
          // never claim ops we did not take: a later sync must bring them again
          for (const op of [...outcome.held, ...outcome.refused]) heldFrom.set(op.origin, Math.min(op.seq, heldFrom.get(op.origin) ?? Infinity))
          continue
        }
        if (frame.message.t !== 'done') throw new SyncProtocolError(`unexpected ${frame.message.t} during sync`)
        if (forged > 0) {
          // a peer that relays forged ops may lie about its vector too: take its valid ops, not its claims
          throw new SyncProtocolError(`peer sent ${forged} ops with bad signatures; not trusting its version vector`)
        }
        state.vector = frame.message.vector
        const vector = capVector(frame.message.vector, heldFrom)
        if (present != null) this.init.resync(peer, present, vector, frame.message.gcVector ?? {})
        else this.init.replica.mergeVector(vector)
        break
      }
      await stream.close({ signal })
      Object.assign(state, { lastSyncAt: Date.now(), lastSyncOps: ops, lastError: undefined })
      return { peer: peer.toString(), ops, ms: Date.now() - started }
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }

  /** A signal for one sync: aborted on stop or after the timeout. Each pending read or write of a long sync listens on it. */
  private deadline (): AbortSignal {
    const signal = AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.init.timeoutMs ?? 300_000)])
    setMaxListeners(Infinity, signal)
    return signal
  }

  private peerState (peer: PeerId): PeerSyncState {
    let state = this.peers.get(peer.toString())
    if (state == null) {
      state = {}
      this.peers.set(peer.toString(), state)
    }
    return state
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const signal = this.deadline()
    stream.inactivityTimeout = STREAM_IDLE_MS
    const lp = lpStream(stream, { maxDataLength: this.maxFrameBytes })
    const hello = expectControl(decodeFrame((await lp.read({ signal })).subarray(), this.limits), 'hello')
    if (hello.t !== 'hello' || hello.vector == null) throw new SyncProtocolError('expected hello with a vector')
    if (hello.group !== this.init.group) {
      await lp.write(encodeControl({ t: 'reject', reason: `this node serves group "${this.init.group}", not "${hello.group}"` }), { signal })
      await stream.close({ signal })
      return
    }
    this.init.onMember(connection.remotePeer, hello.name)
    Object.assign(this.peerState(connection.remotePeer), { name: hello.name, vector: hello.vector, clockOffsetMs: hello.now - Date.now() })
    // Taken before the pages are read: rows that change while we stream only
    // get newer, so these vectors never claim more than the pages deliver.
    const vector = this.init.replica.vector()
    const gcVector = this.init.replica.gcVector()
    const snapshot = isBehindGc(hello.vector, gcVector)
    await lp.write(encodeControl({ t: 'hello', group: this.init.group, name: this.init.name, now: Date.now(), vector, ...(snapshot ? { snapshot } : {}) }), { signal })
    const theirs = snapshot ? {} : hello.vector
    let cursor: MissingCursor | undefined
    do {
      const page = this.init.replica.missing(theirs, { limit: this.init.pageOps ?? 512, cursor })
      for (const chunk of chunkByBatch(page.ops, this.init.frameBytes ?? 1024 * 1024)) {
        await lp.write(encodeOpsFrame(chunk), { signal })
      }
      cursor = page.next
    } while (cursor != null)
    await lp.write(encodeControl({ t: 'done', vector, gcVector }), { signal })
    await stream.close({ signal })
  }
}

function capVector (vector: VersionVector, heldFrom: Map<string, number>): VersionVector {
  const capped = { ...vector }
  for (const [origin, seq] of heldFrom) capped[origin] = Math.min(capped[origin] ?? 0, seq - 1)
  return capped
}

function expectControl (frame: ReturnType<typeof decodeFrame>, what: string): ControlMessage {
  if (frame.kind !== 'control') throw new SyncProtocolError(`expected ${what}, got ops`)
  return frame.message
}

/** Splits ops into runs whose keys and values add up to at most `maxBytes` (one oversized op goes alone). */
export function chunkByBytes (ops: Op[], maxBytes: number): Op[][] {
  const chunks: Op[][] = []
  let current: Op[] = []
  let bytes = 0
  for (const op of ops) {
    const size = sizeOf(op)
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current)
      current = []
      bytes = 0
    }
    current.push(op)
    bytes += size
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

/**
 * Like `chunkByBytes`, but never splits the ops of one batch (one proof)
 * that fit together, so each batch's proof travels once and without digests.
 */
export function chunkByBatch (ops: Op[], maxBytes: number): Op[][] {
  const chunks: Op[][] = []
  let current: Op[] = []
  let bytes = 0
  for (let start = 0; start < ops.length;) {
    let end = start + 1
    let size = sizeOf(ops[start] as Op)
    const proof = (ops[start] as Op).proof
    for (; end < ops.length && proof != null && (ops[end] as Op).proof === proof; end++) size += sizeOf(ops[end] as Op)
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current)
      current = []
      bytes = 0
    }
    if (size > maxBytes) chunks.push(...chunkByBytes(ops.slice(start, end), maxBytes))
    else {
      current.push(...ops.slice(start, end))
      bytes += size
    }
    start = end
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

function sizeOf (op: Op): number {
  return op.key.length * 3 + (op.value?.length ?? 0)
}

export function murmurSync (init: SyncInit): (components: SyncComponents) => SyncService {
  return components => new SyncService(components, init)
}
