/**
 * A murmur node: a full replica of one group's key-value map, kept in SQLite
 * and replicated over libp2p. murmurd is a thin shell over this class, and a
 * program can embed it directly (see `createMurmur`).
 */
import './polyfill.js'
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { Replica, SqliteStore, type Change, type Op, type Version } from '@murmur/core'
import { DEFAULT_LIST_LIMIT, DEFAULT_MAX_VALUE_BYTES, Key, rpcError, type NodeCounters, type NodeStatus, type PeerInfo, type PeerSyncStatus } from '@murmur/protocol'
import { pino, type Logger } from 'pino'
import { parsePeerId } from './allow-list.js'
import { lockDataDir, prepareDataDir, type DataDirLock } from './data-dir.js'
import { NotStartedError } from './errors.js'
import { GossipReplication } from './gossip.js'
import { HeldOps } from './held-ops.js'
import { OpVerifier, batchSigner } from './op-signing.js'
import { loadOrCreateIdentity } from './identity.js'
import { createLibp2pNode, type MurmurLibp2p } from './libp2p-node.js'
import { Discovery } from './discovery.js'
import { VERSION } from './version.js'
import { WriteQueue } from './write-queue.js'
import type { ApplyOutcome } from './sync/sync-service.js'
import type { PeerId } from '@libp2p/interface'

export interface MurmurInit {
  /** A name for this node, shown to peers. */
  name: string
  /** Where the database, identity key and socket live. */
  dataDir: string
  /** Nodes replicate only with nodes of the same group. @default 'default' */
  group?: string
  /** Multiaddrs to listen on. @default ['/ip4/0.0.0.0/tcp/0'] */
  listen?: string[]
  /** Multiaddrs to dial and keep connected (`/p2p/<id>` optional). @default [] */
  peers?: string[]
  /** LAN discovery over mDNS, scoped to the group. @default true */
  mdns?: boolean
  /** Discovery through the group's private Kademlia DHT. @default true */
  dht?: boolean
  /** 'full' fsyncs every commit (acknowledged = durable); 'normal' may lose the last commits on power loss. @default 'full' */
  durability?: 'full' | 'normal'
  /** Largest value accepted, in bytes. @default 1 MiB */
  maxValueBytes?: number
  /**
   * Remote ops stamped more than this ahead of our clock are held until our
   * clock catches up, so a node with a fast clock cannot drag the cluster's
   * clocks forward. @default 60_000
   */
  maxClockSkewMs?: number
  /** Mean interval between anti-entropy pulls from a random connected peer (jittered ±50%). @default 5_000 */
  antiEntropyIntervalMs?: number
  /** A tombstone every known peer has seen is collected once it is this old. @default 300_000 (5 min) */
  tombstoneGraceMs?: number
  /** Every tombstone is collected once it is this old, seen by all peers or not. @default 604_800_000 (7 days) */
  tombstoneRetentionMs?: number
  /**
   * The group's 32-byte swarm key (`readSwarmKey(path)` reads a key file):
   * only peers holding the same key can connect. @default none
   */
  swarmKey?: Uint8Array
  /**
   * Peer IDs that may connect, in either direction; no other peer can. This
   * node's own ID is always allowed. @default any peer
   */
  allow?: string[]
  /** A pino logger; the node logs through children of it. @default silent */
  logger?: Logger
}

export interface Entry {
  key: string
  value: Uint8Array
  version: Version
}

export interface ChangeEvent {
  type: 'put' | 'delete'
  key: string
  value?: Uint8Array
  version: Version
  /** 'local' for this node's writes, else the peer ID the op came through. */
  source: string
}

/** What one write of `writeMany` settles to: a put's version, or what a delete did. */
export type WriteOutcome = Version | { deleted: boolean, version?: Version }

export type PeerSummary = PeerInfo
export type MurmurStatus = Omit<NodeStatus, 'socket'>

export interface MurmurEvents {
  change: [ChangeEvent]
  'peer:member': [PeerSummary]
}

interface Running {
  lock: DataDirLock
  store: SqliteStore
  replica: Replica
  libp2p: MurmurLibp2p
  gossip: GossipReplication
  discovery: Discovery
  writes: WriteQueue
  held: HeldOps
  timers: NodeJS.Timeout[]
  startedAt: number
}

interface Refused {
  op: Op
  problem: string
  /** A bad or missing signature, as opposed to a policy refusal. */
  forged: boolean
}

/** Ops stamped further ahead than this are refused, not held. */
const MAX_HOLD_MS = 60 * 60 * 1000

export class Murmur extends EventEmitter<MurmurEvents> {
  readonly name: string
  readonly group: string
  readonly dataDir: string
  readonly maxValueBytes: number
  private readonly init: MurmurInit
  private readonly log: Logger
  private readonly members = new Map<string, string>()
  private readonly repairTimers = new Map<string, NodeJS.Timeout>()
  private readonly counters: NodeCounters = { repaired: 0, gossiped: 0, rejected: 0, held: 0, collected: 0 }
  private readonly maxClockSkewMs: number
  private readonly allowed?: Set<string>
  private readonly warnedAt = new Map<string, number>()
  private readonly verifier: OpVerifier
  private running?: Running

  constructor (init: MurmurInit) {
    super()
    this.init = init
    this.name = init.name
    this.group = init.group ?? 'default'
    this.dataDir = prepareDataDir(init.dataDir)
    this.maxValueBytes = init.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
    this.log = init.logger ?? pino({ level: 'silent' })
    this.maxClockSkewMs = init.maxClockSkewMs ?? 60_000
    if (init.allow != null) this.allowed = new Set(init.allow.map(id => parsePeerId(id, 'the allow-list')))
    this.verifier = new OpVerifier(this.group)
  }

  get isRunning (): boolean {
    return this.running != null
  }

  /** This node's peer ID (also the origin of its writes). */
  get peerId (): string {
    return this.state().libp2p.peerId.toString()
  }

  /** Multiaddrs this node listens on, each ending in `/p2p/<peerId>`. */
  get addrs (): string[] {
    return this.state().libp2p.getMultiaddrs().map(String)
  }

  /** Whether `peerId` may connect: any peer without an allow-list; with one, the peers on it and this node. */
  isAllowed (peerId: string): boolean {
    return this.allowed == null || this.allowed.has(peerId)
  }

  async start (): Promise<void> {
    if (this.running != null) return
    const lock = lockDataDir(this.dataDir)
    let store: SqliteStore | undefined
    try {
      const privateKey = await loadOrCreateIdentity(this.dataDir)
      const peerId = peerIdFromPrivateKey(privateKey)
      this.allowed?.add(peerId.toString()) // a node always allows itself
      // 'full' is kept by the write queue: each batch is acknowledged after an fsync of the WAL
      store = SqliteStore.open(join(this.dataDir, 'murmur.db'), { durability: (this.init.durability ?? 'full') === 'full' ? 'group' : 'normal' })
      const replica = new Replica({ store, nodeId: peerId.toString(), sign: batchSigner(privateKey, this.group) })
      const libp2p = await createLibp2pNode({
        privateKey,
        group: this.group,
        mdns: this.init.mdns ?? true,
        dht: this.init.dht ?? true,
        swarmKey: this.init.swarmKey,
        allowed: this.allowed != null ? peer => this.isAllowed(peer) : undefined,
        listen: this.init.listen ?? ['/ip4/0.0.0.0/tcp/0'],
        maxValueBytes: this.maxValueBytes,
        sync: {
          group: this.group,
          name: this.name,
          replica,
          maxValueBytes: this.maxValueBytes,
          log: this.log.child({ component: 'sync' }),
          apply: (ops, from) => this.applyRemote(ops, from, 'repaired'),
          onMember: (peer, name) => { this.addMember(peer, name) },
          resync: (peer, present, vector, gcVector) => { this.resync(peer, present, vector, gcVector) }
        }
      })
      const gossip = new GossipReplication(libp2p.services.pubsub, {
        group: this.group,
        checkOp: op => this.opProblem(op),
        maxValueBytes: this.maxValueBytes,
        log: this.log.child({ component: 'gossip' }),
        apply: (ops, via) => { this.applyRemote(ops, via, 'gossiped') }
      })
      const discovery = new Discovery(libp2p, { dataDir: this.dataDir, peers: this.init.peers ?? [], log: this.log.child({ component: 'discovery' }) })
      const durableStore = store
      const writes = new WriteQueue(changes => replica.write(changes), {
        // a lone writer waits for its fsync on this thread (a hand-off to the thread pool costs it more
        // than it saves); a batch of several writers syncs on the pool while the next batch commits
        durable: writers => {
          if (writers > 1) return durableStore.sync()
          durableStore.syncNow()
          return undefined
        },
        after: ops => { this.published(ops) }
      })
      const held = new HeldOps({ maxSkewMs: this.maxClockSkewMs, maxHoldMs: MAX_HOLD_MS, capacity: 100_000 })
      libp2p.addEventListener('peer:disconnect', event => { this.removeMember(event.detail) })
      // the sync topology's onConnect pulls on a peer's first connection only; a member that reconnects
      // while we still hold a stale connection to it opens a second one, and must be pulled from as well
      libp2p.addEventListener('connection:open', event => {
        const peer = event.detail.remotePeer
        const known = this.members.has(peer.toString()) || discovery.isKnown(peer.toString())
        if (known && libp2p.getConnections(peer).length > 1) libp2p.services.sync.pullInBackground(peer, 'reconnect')
      })
      await libp2p.start()
      this.running = { lock, store, replica, libp2p, gossip, discovery, writes, held, timers: [], startedAt: Date.now() }
      gossip.start()
      discovery.start()
      this.startTimers(this.running)
      this.log.info({ peerId: peerId.toString(), group: this.group, addrs: this.addrs }, 'node started')
    } catch (err) {
      store?.close()
      lock.release()
      throw err
    }
  }

  async stop (): Promise<void> {
    const running = this.running
    if (running == null) return
    this.running = undefined
    for (const timer of [...this.repairTimers.values(), ...running.timers]) clearTimeout(timer)
    this.repairTimers.clear()
    await running.discovery.stop()
    running.gossip.stop()
    await running.libp2p.stop()
    running.store.close()
    running.lock.release()
    this.members.clear()
    this.log.info('node stopped')
  }

  /** Writes `value` under `key`; resolves once the write is committed to disk. */
  async put (key: string, value: Uint8Array | string): Promise<Version> {
    const [op] = await this.submit([this.putChange(key, value)])
    return versionOf(op as Op)
  }

  get (key: string): Entry | undefined {
    checkKey(key)
    const op = this.state().replica.get(key)
    return op?.value == null ? undefined : { key, value: op.value, version: versionOf(op) }
  }

  /** Deletes `key` (a tombstone that replicates). `deleted` is false when there was nothing to delete. */
  async delete (key: string): Promise<{ deleted: boolean, version?: Version }> {
    if (this.deleteChange(key) == null) return { deleted: false }
    const [op] = await this.submit([{ key, value: null }])
    return { deleted: true, version: versionOf(op as Op) }
  }

  /**
   * Puts (a value) and deletes (`value: null`) committed together: one
   * transaction and one promise however many there are. Each settles as its
   * own `put()` or `delete()` would have, had they all been called at once:
   * an invalid one fails alone, and deletes see the keys as they stood before
   * these writes.
   */
  async writeMany (writes: Array<{ key: string, value: Uint8Array | string | null }>): Promise<Array<PromiseSettledResult<WriteOutcome>>> {
    const settled = new Array<PromiseSettledResult<WriteOutcome>>(writes.length)
    const changes: Change[] = []
    /** The index in `writes` of each change. */
    const indexes: number[] = []
    for (let i = 0; i < writes.length; i++) {
      const { key, value } = writes[i] as { key: string, value: Uint8Array | string | null }
      try {
        const change = value == null ? this.deleteChange(key) : this.putChange(key, value)
        if (change == null) settled[i] = { status: 'fulfilled', value: { deleted: false } }
        else {
          changes.push(change)
          indexes.push(i)
        }
      } catch (err) {
        settled[i] = { status: 'rejected', reason: err }
      }
    }
    if (changes.length === 0) return settled
    let ops: Op[] = []
    let failure: unknown
    try {
      ops = await this.submit(changes)
    } catch (err) {
      failure = err
    }
    for (let j = 0; j < indexes.length; j++) {
      const op = ops[j] as Op
      settled[indexes[j] as number] = failure != null
        ? { status: 'rejected', reason: failure }
        : { status: 'fulfilled', value: op.value == null ? { deleted: true, version: versionOf(op) } : versionOf(op) }
    }
    return settled
  }

  /** Live entries in key order, a page at a time: pass `next` back as `after`. */
  list (options: { prefix?: string, after?: string, limit?: number } = {}): { items: Entry[], next?: string } {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    const ops = this.state().replica.list({ prefix: options.prefix, after: options.after, limit: limit + 1 })
    const items = ops.slice(0, limit).map(op => ({ key: op.key, value: op.value as Uint8Array, version: versionOf(op) }))
    return ops.length > limit ? { items, next: items[items.length - 1]?.key } : { items }
  }

  /** Dials a multiaddr and keeps nothing else: the peer is not redialled if it drops. */
  async connect (addr: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    let ma
    try {
      ma = multiaddr(addr)
    } catch (err) {
      throw rpcError('InvalidParams', `not a multiaddr: ${addr} (${(err as Error).message})`)
    }
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(10_000), ...(options.signal != null ? [options.signal] : [])])
      const connection = await this.state().libp2p.dial(ma, { signal })
      return connection.remotePeer.toString()
    } catch (err) {
      throw rpcError('Dial', `cannot connect to ${addr}: ${(err as Error).message}`)
    }
  }

  /** Connected peers, with group membership and names learned from the sync handshake. */
  peers (): PeerSummary[] {
    const { libp2p } = this.state()
    return libp2p.getPeers().map(peer => this.summarise(peer))
  }

  status (): MurmurStatus {
    const { replica, startedAt, held, gossip } = this.state()
    const id = this.peerId
    const memberIds = [...this.members.keys()]
    const coordinator = [id, ...memberIds].sort()[0] as string
    const counts = replica.counts()
    const vector = replica.vector()
    const peerSync = this.peerSync(vector)
    return {
      id,
      name: this.name,
      group: this.group,
      version: VERSION,
      dataDir: this.dataDir,
      addrs: this.addrs,
      peers: memberIds.length,
      keys: counts.keys,
      tombstones: counts.tombstones,
      mode: 'leaderless',
      role: coordinator === id ? 'COORDINATOR' : 'FOLLOWER',
      coordinator,
      versionVector: vector,
      peerSync,
      counters: { ...this.counters, rejected: this.counters.rejected + gossip.rejected, held: held.size },
      clock: { maxSkewMs: this.maxClockSkewMs, ...clockWarning(peerSync, this.maxClockSkewMs) },
      uptimeMs: Date.now() - startedAt,
      access: { swarmKey: this.init.swarmKey != null, ...(this.allowed != null ? { allowList: this.allowed.size } : {}) }
    }
  }

  private peerSync (vector: Record<string, number>): PeerSyncStatus[] {
    const { libp2p } = this.state()
    return [...libp2p.services.sync.peers].map(([id, state]) => ({
      id,
      ...(state.name != null ? { name: state.name } : {}),
      connected: this.members.has(id),
      ...(state.lastSyncAt != null ? { lastSync: new Date(state.lastSyncAt).toISOString(), lastSyncOps: state.lastSyncOps } : {}),
      ...(state.lastError != null ? { lastError: state.lastError } : {}),
      ...(state.vector != null ? { behind: opsBehind(vector, state.vector) } : {}),
      ...(state.clockOffsetMs != null ? { clockOffsetMs: state.clockOffsetMs } : {})
    }))
  }

  private startTimers (running: Running): void {
    const mean = this.init.antiEntropyIntervalMs ?? 5_000
    const antiEntropy = (): void => {
      const { warning } = clockWarning(this.peerSync(running.replica.vector()), this.maxClockSkewMs)
      if (warning != null && this.due('clock', 300_000)) this.log.warn({ maxSkewMs: this.maxClockSkewMs }, warning)
      const members = [...this.members.keys()]
      const pick = members[Math.floor(Math.random() * members.length)]
      const peer = pick == null ? undefined : running.libp2p.getPeers().find(p => p.toString() === pick)
      if (peer != null) running.libp2p.services.sync.pullInBackground(peer, 'anti-entropy')
      running.timers[0] = setTimeout(antiEntropy, mean * (0.5 + Math.random()))
    }
    running.timers[0] = setTimeout(antiEntropy, mean * (0.5 + Math.random()))
    const releaseHeld = (): void => {
      const ready = running.held.release(Date.now())
      if (ready.length > 0) this.mergeReady(ready, 'held', 'repaired')
      running.timers[1] = setTimeout(releaseHeld, 1_000)
    }
    running.timers[1] = setTimeout(releaseHeld, 1_000)
    const grace = this.init.tombstoneGraceMs ?? 300_000
    const collect = (): void => {
      this.collectTombstones(running, grace)
      running.timers[2] = setTimeout(collect, Math.min(60_000, Math.max(1_000, grace / 2)))
    }
    running.timers[2] = setTimeout(collect, Math.min(60_000, Math.max(1_000, grace / 2)))
  }

  /**
   * Collects tombstones every known peer (the peer book's members) has seen
   * and that are older than the grace period, and any past the maximum
   * retention. A peer whose vector is unknown holds collection back.
   */
  private collectTombstones (running: Running, grace: number): void {
    const { replica, discovery, libp2p } = running
    for (const [id, state] of libp2p.services.sync.peers) if (state.vector != null) discovery.noteVector(id, state.vector)
    const stable: Record<string, number> = { ...replica.vector() }
    for (const entry of discovery.known()) {
      for (const origin of Object.keys(stable)) stable[origin] = Math.min(stable[origin] ?? 0, entry.vector?.[origin] ?? 0)
    }
    const now = Date.now()
    try {
      const removed = replica.store.collectTombstones({ stable, stableBefore: now - grace, anyBefore: now - (this.init.tombstoneRetentionMs ?? 604_800_000) })
      if (removed > 0) {
        this.counters.collected += removed
        this.log.info({ removed, gcVector: replica.gcVector() }, 'collected tombstones')
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'tombstone collection failed; will retry')
    }
  }

  /** A peer's snapshot arrived: drop what it deleted long ago (rows it lacks though it had seen them). */
  private resync (peer: PeerId, present: Set<string>, vector: Record<string, number>, gcVector: Record<string, number>): void {
    const { replica } = this.state()
    const removed = replica.store.pruneAbsent(present, vector)
    replica.mergeVector(vector)
    replica.store.mergeGcVector(gcVector)
    for (const op of removed) {
      if (op.value != null) this.emitChange({ ...op, value: null }, peer.toString())
    }
    this.log.warn({ peer: peer.toString(), removed: removed.length }, 'resynchronised from a peer snapshot: this node was behind its garbage-collected deletes')
  }

  private state (): Running {
    if (this.running == null) throw new NotStartedError('the murmur node is not running; call start() first')
    return this.running
  }

  /** A put, checked: the key, and the value against the size limit. */
  private putChange (key: string, value: Uint8Array | string): Change {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
    checkKey(key)
    if (bytes.byteLength > this.maxValueBytes) {
      throw rpcError('ValueTooLarge', `value is ${bytes.byteLength} bytes; the limit is ${this.maxValueBytes}`, { limit: this.maxValueBytes, size: bytes.byteLength })
    }
    return { key, value: bytes }
  }

  /** A delete, checked; undefined when there is nothing to delete. */
  private deleteChange (key: string): Change | undefined {
    checkKey(key)
    return this.state().replica.get(key)?.value == null ? undefined : { key, value: null }
  }

  private async submit (changes: Change[]): Promise<Op[]> {
    try {
      return await this.state().writes.submit(changes)
    } catch (err) {
      const code = (err as { code?: string }).code ?? ''
      if (code.startsWith('SQLITE_')) {
        this.log.error({ err: (err as Error).message, code }, 'write failed')
        const reason = code === 'SQLITE_FULL' ? 'the disk is full' : (err as Error).message
        throw rpcError('Storage', `write not stored: ${reason}`, { sqlite: code })
      }
      if (['EIO', 'ENOSPC', 'EDQUOT', 'EROFS'].includes(code)) {
        // committed, but the fsync of the WAL failed: it may or may not survive a power cut
        this.log.error({ err: (err as Error).message, code }, 'write committed but not synced to disk')
        throw rpcError('Storage', `write not known to be on disk: ${(err as Error).message}`, { errno: code })
      }
      throw err
    }
  }

  /**
   * Local ops that are on disk: tell watchers, and publish them once the
   * acknowledgements have gone out (a put waits for its commit, not for
   * gossip). Never before the disk has them: peers must not learn seqs this
   * node could lose to a power cut and then issue again.
   */
  private published (ops: Op[]): void {
    try {
      for (const op of ops) this.emitChange(op, 'local')
    } catch (err) {
      this.log.error({ err }, 'a change listener failed')
    }
    setImmediate(() => {
      this.running?.gossip.publish(ops).then(
        recipients => { this.log.debug({ ops: ops.length, recipients }, 'published ops') },
        err => { this.log.warn({ err: (err as Error).message, ops: ops.length }, 'publish failed; peers will sync') }
      )
    })
  }

  private applyRemote (ops: Op[], from: PeerId, counter: 'repaired' | 'gossiped'): ApplyOutcome {
    const running = this.running
    if (running == null) return { applied: 0, held: [], refused: [], forged: 0 }
    const { valid, refused } = this.checkOps(ops)
    if (refused.length > 0) this.reportRefused(from, refused)
    const { ready, held, rejected } = running.held.triage(valid, Date.now())
    if (held.length > 0 || rejected.length > 0) this.reportSkew(from, [...held, ...rejected], rejected.length)
    const applied = this.mergeReady(ready, from.toString(), counter)
    const vector = running.replica.vector()
    if (ready.some(op => (vector[op.origin] ?? 0) < op.seq)) this.scheduleRepair(from)
    return { applied, held, refused: refused.map(r => r.op), forged: refused.filter(r => r.forged).length }
  }

  /** Why an op from a peer must be refused: an origin not allowed to write, or a bad or missing signature. */
  private opProblem (op: Op): string | undefined {
    if (!this.isAllowed(op.origin)) return 'its origin is not on the allow-list'
    return this.verifier.problem(op)
  }

  private checkOps (ops: Op[]): { valid: Op[], refused: Refused[] } {
    const valid: Op[] = []
    const refused: Refused[] = []
    for (const op of ops) {
      const problem = this.opProblem(op)
      if (problem == null) valid.push(op)
      else refused.push({ op, problem, forged: this.isAllowed(op.origin) })
    }
    return { valid, refused }
  }

  /** Counts refused ops and logs (at most once a minute per peer) who sent them. */
  private reportRefused (from: PeerId, refused: Refused[]): void {
    this.counters.rejected += refused.length
    if (!this.due(`refused:${from.toString()}`, 60_000)) return
    const first = refused[0] as Refused
    this.log.warn({ peer: from.toString(), refused: refused.length, origin: first.op.origin, key: first.op.key, problem: first.problem }, 'refused ops from peer')
  }

  /** Merges ops that are within the clock bound; returns how many changed a key. */
  private mergeReady (ops: Op[], source: string, counter: 'repaired' | 'gossiped'): number {
    const running = this.running
    if (running == null || ops.length === 0) return 0
    let applied: Op[]
    try {
      applied = running.replica.merge(ops)
    } catch (err) {
      this.log.error({ err: (err as Error).message, source, ops: ops.length }, 'cannot apply remote ops; a later sync will retry')
      return 0
    }
    // on disk soon, off the event loop: nobody waits for it, but a peer's write should not live only in memory
    running.store.sync().catch((err: Error) => { this.log.warn({ err: err.message }, 'fsync after applying remote ops failed') })
    this.counters[counter] += applied.length
    for (const op of applied) this.emitChange(op, source)
    this.log.debug({ source, received: ops.length, applied: applied.length }, 'applied remote ops')
    return applied.length
  }

  /** Whether a warning named `key` may be logged again (at most once per `everyMs`); notes that it was. */
  private due (key: string, everyMs: number): boolean {
    const now = Date.now()
    if ((this.warnedAt.get(key) ?? -Infinity) > now - everyMs) return false
    this.warnedAt.set(key, now)
    return true
  }

  /** Logs (at most once a minute per peer) that a peer sent ops stamped beyond the clock bound. */
  private reportSkew (from: PeerId, ops: Op[], rejected: number): void {
    this.counters.rejected += rejected
    if (!this.due(`skew:${from.toString()}`, 60_000)) return
    const aheadMs = Math.max(...ops.map(op => op.wall)) - Date.now()
    const origins = [...new Set(ops.map(op => op.origin))]
    this.log.warn({ peer: from.toString(), origins, aheadMs, held: ops.length - rejected, rejected, maxSkewMs: this.maxClockSkewMs },
      'received ops stamped beyond the clock-skew bound; holding them until our clock catches up (is a clock wrong?)')
  }

  /** Ops arrived past a gap in some origin's sequence: pull from the peer soon (coalesced). */
  private scheduleRepair (peer: PeerId): void {
    const key = peer.toString()
    if (this.repairTimers.has(key)) return
    this.repairTimers.set(key, setTimeout(() => {
      this.repairTimers.delete(key)
      this.running?.libp2p.services.sync.pullInBackground(peer, 'gap')
    }, 500))
  }

  private emitChange (op: Op, source: string): void {
    const base = { key: op.key, version: versionOf(op), source }
    this.emit('change', op.value == null ? { type: 'delete', ...base } : { type: 'put', value: op.value, ...base })
  }

  private addMember (peer: PeerId, name: string): void {
    const isNew = !this.members.has(peer.toString())
    this.members.set(peer.toString(), name)
    void this.running?.discovery.remember(peer, name)
    if (isNew) {
      this.log.info({ peer: peer.toString(), peerName: name }, 'group member connected')
      this.emit('peer:member', this.summarise(peer))
    }
  }

  private removeMember (peer: PeerId): void {
    const name = this.members.get(peer.toString())
    if (name == null) return
    this.members.delete(peer.toString())
    this.log.info({ peer: peer.toString(), peerName: name }, 'group member disconnected')
  }

  private summarise (peer: PeerId): PeerSummary {
    const { libp2p, discovery } = this.state()
    const name = this.members.get(peer.toString())
    const addrs = libp2p.getConnections(peer).map(c => c.remoteAddr.toString())
    const via = discovery.source(peer.toString())
    return { id: peer.toString(), addrs, member: name != null, ...(name != null ? { name } : {}), ...(via != null ? { via } : {}) }
  }
}

/** Creates a node and starts it (pass `start: false` to start it yourself). */
export async function createMurmur (init: MurmurInit & { start?: boolean }): Promise<Murmur> {
  const node = new Murmur(init)
  if (init.start !== false) await node.start()
  return node
}

/** Ops we have that the holder of `theirs` lacks. */
function opsBehind (ours: Record<string, number>, theirs: Record<string, number>): number {
  let behind = 0
  for (const [origin, seq] of Object.entries(ours)) behind += Math.max(0, seq - (theirs[origin] ?? 0))
  return behind
}

/**
 * Blames this node's clock only when most peers agree it is off; with one
 * peer, says the two clocks disagree.
 */
function clockWarning (peers: PeerSyncStatus[], maxSkewMs: number): { warning?: string } {
  const offsets = peers.filter(p => p.connected && p.clockOffsetMs != null).map(p => p.clockOffsetMs as number).sort((a, b) => a - b)
  const median = offsets[Math.floor(offsets.length / 2)]
  if (median == null || Math.abs(median) <= maxSkewMs / 2) return {}
  const seconds = Math.round(Math.abs(median) / 1000)
  if (offsets.length === 1) return { warning: `this node's clock and its peer's differ by ${seconds} s; one of them is wrong` }
  return { warning: `this node's clock is about ${seconds} s ${median < 0 ? 'ahead of' : 'behind'} its peers'` }
}

/** The protocol's `Key` schema is the one definition of a valid key, for RPC and library calls alike. */
function checkKey (key: string): void {
  const parsed = Key.safeParse(key)
  if (!parsed.success) throw rpcError('InvalidParams', parsed.error.issues[0]?.message ?? 'invalid key')
}

function versionOf (op: Version): Version {
  return { wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq }
}
