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
import { DEFAULT_LIST_LIMIT, DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES, rpcError } from '@murmur/protocol'
import { pino, type Logger } from 'pino'
import { lockDataDir, prepareDataDir, type DataDirLock } from './data-dir.js'
import { NotStartedError } from './errors.js'
import { GossipReplication } from './gossip.js'
import { loadOrCreateIdentity } from './identity.js'
import { createLibp2pNode, type MurmurLibp2p } from './libp2p-node.js'
import { PeerDialer } from './peer-dialer.js'
import { VERSION } from './version.js'
import { WriteQueue } from './write-queue.js'
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
  /** LAN discovery over mDNS. Accepted for forward compatibility; not yet active. @default true */
  mdns?: boolean
  /** Kademlia DHT discovery. Accepted for forward compatibility; not yet active. @default true */
  dht?: boolean
  /** 'full' fsyncs every commit (acknowledged = durable); 'normal' may lose the last commits on power loss. @default 'full' */
  durability?: 'full' | 'normal'
  /** Largest value accepted, in bytes. @default 1 MiB */
  maxValueBytes?: number
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

export interface PeerSummary {
  id: string
  addrs: string[]
  name?: string
  member: boolean
}

export interface MurmurStatus {
  id: string
  name: string
  group: string
  version: string
  dataDir: string
  addrs: string[]
  peers: number
  keys: number
  tombstones: number
  mode: 'leaderless'
  role: 'COORDINATOR' | 'FOLLOWER'
  coordinator: string
  versionVector: Record<string, number>
  uptimeMs: number
}

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
  dialer: PeerDialer
  writes: WriteQueue
  startedAt: number
}

export class Murmur extends EventEmitter<MurmurEvents> {
  readonly name: string
  readonly group: string
  readonly dataDir: string
  readonly maxValueBytes: number
  private readonly init: MurmurInit
  private readonly log: Logger
  private readonly members = new Map<string, string>()
  private readonly repairTimers = new Map<string, NodeJS.Timeout>()
  private running?: Running

  constructor (init: MurmurInit) {
    super()
    this.init = init
    this.name = init.name
    this.group = init.group ?? 'default'
    this.dataDir = prepareDataDir(init.dataDir)
    this.maxValueBytes = init.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
    this.log = init.logger ?? pino({ level: 'silent' })
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

  async start (): Promise<void> {
    if (this.running != null) return
    const lock = lockDataDir(this.dataDir)
    let store: SqliteStore | undefined
    try {
      const privateKey = await loadOrCreateIdentity(this.dataDir)
      const peerId = peerIdFromPrivateKey(privateKey)
      store = SqliteStore.open(join(this.dataDir, 'murmur.db'), { durability: this.init.durability ?? 'full' })
      const replica = new Replica({ store, nodeId: peerId.toString() })
      const libp2p = await createLibp2pNode({
        privateKey,
        listen: this.init.listen ?? ['/ip4/0.0.0.0/tcp/0'],
        maxValueBytes: this.maxValueBytes,
        sync: {
          group: this.group,
          name: this.name,
          replica,
          maxValueBytes: this.maxValueBytes,
          log: this.log.child({ component: 'sync' }),
          apply: (ops, from) => { this.applyRemote(ops, from) },
          onMember: (peer, name) => { this.addMember(peer, name) }
        }
      })
      const gossip = new GossipReplication(libp2p.services.pubsub, {
        group: this.group,
        maxValueBytes: this.maxValueBytes,
        log: this.log.child({ component: 'gossip' }),
        apply: (ops, _from, via) => { this.applyRemote(ops, via) }
      })
      const dialer = new PeerDialer(libp2p, { addrs: this.init.peers ?? [], log: this.log.child({ component: 'dialer' }) })
      const writes = new WriteQueue(changes => this.commitLocal(changes))
      libp2p.addEventListener('peer:disconnect', event => { this.removeMember(event.detail) })
      await libp2p.start()
      this.running = { lock, store, replica, libp2p, gossip, dialer, writes, startedAt: Date.now() }
      gossip.start()
      dialer.start()
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
    for (const timer of this.repairTimers.values()) clearTimeout(timer)
    this.repairTimers.clear()
    await running.dialer.stop()
    running.gossip.stop()
    await running.libp2p.stop()
    running.store.close()
    running.lock.release()
    this.members.clear()
    this.log.info('node stopped')
  }

  /** Writes `value` under `key`; resolves once the write is committed to disk. */
  async put (key: string, value: Uint8Array | string): Promise<Version> {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
    checkKey(key)
    if (bytes.byteLength > this.maxValueBytes) {
      throw rpcError('ValueTooLarge', `value is ${bytes.byteLength} bytes; the limit is ${this.maxValueBytes}`, { limit: this.maxValueBytes, size: bytes.byteLength })
    }
    return versionOf(await this.submit({ key, value: bytes }))
  }

  get (key: string): Entry | undefined {
    checkKey(key)
    const op = this.state().replica.get(key)
    return op?.value == null ? undefined : { key, value: op.value, version: versionOf(op) }
  }

  /** Deletes `key` (a tombstone that replicates). `deleted` is false when there was nothing to delete. */
  async delete (key: string): Promise<{ deleted: boolean, version?: Version }> {
    checkKey(key)
    if (this.state().replica.get(key)?.value == null) return { deleted: false }
    return { deleted: true, version: versionOf(await this.submit({ key, value: null })) }
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
    const { replica, startedAt } = this.state()
    const id = this.peerId
    const memberIds = [...this.members.keys()]
    const coordinator = [id, ...memberIds].sort()[0] as string
    const counts = replica.counts()
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
      versionVector: replica.vector(),
      uptimeMs: Date.now() - startedAt
    }
  }

  private state (): Running {
    if (this.running == null) throw new NotStartedError('the murmur node is not running; call start() first')
    return this.running
  }

  private async submit (change: Change): Promise<Op> {
    try {
      return await this.state().writes.submit(change)
    } catch (err) {
      const code = (err as { code?: string }).code ?? ''
      if (!code.startsWith('SQLITE_')) throw err
      this.log.error({ err: (err as Error).message, code }, 'write failed')
      const reason = code === 'SQLITE_FULL' ? 'the disk is full' : (err as Error).message
      throw rpcError('Storage', `write not stored: ${reason}`, { sqlite: code })
    }
  }

  private commitLocal (changes: Change[]): Op[] {
    const { replica, gossip } = this.state()
    const ops = replica.write(changes)
    for (const op of ops) this.emitChange(op, 'local')
    gossip.publish(ops).then(
      recipients => { this.log.debug({ ops: ops.length, recipients }, 'published ops') },
      err => { this.log.warn({ err: (err as Error).message, ops: ops.length }, 'publish failed; peers will sync') }
    )
    return ops
  }

  private applyRemote (ops: Op[], from: PeerId): void {
    const running = this.running
    if (running == null) return
    let applied: Op[]
    try {
      applied = running.replica.merge(ops)
    } catch (err) {
      this.log.error({ err: (err as Error).message, peer: from.toString(), ops: ops.length }, 'cannot apply remote ops; a later sync will retry')
      return
    }
    for (const op of applied) this.emitChange(op, from.toString())
    this.log.debug({ peer: from.toString(), received: ops.length, applied: applied.length }, 'applied remote ops')
    const vector = running.replica.vector()
    if (ops.some(op => (vector[op.origin] ?? 0) < op.seq)) this.scheduleRepair(from)
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
    const { libp2p } = this.state()
    const name = this.members.get(peer.toString())
    const addrs = libp2p.getConnections(peer).map(c => c.remoteAddr.toString())
    return { id: peer.toString(), addrs, member: name != null, ...(name != null ? { name } : {}) }
  }
}

/** Creates a node and starts it (pass `start: false` to start it yourself). */
export async function createMurmur (init: MurmurInit & { start?: boolean }): Promise<Murmur> {
  const node = new Murmur(init)
  if (init.start !== false) await node.start()
  return node
}

function checkKey (key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw rpcError('InvalidParams', 'key must be a non-empty string')
  if (!key.isWellFormed()) throw rpcError('InvalidParams', 'key must be valid UTF-8 (no lone surrogates)')
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw rpcError('InvalidParams', `key must be at most ${MAX_KEY_BYTES} bytes of UTF-8`)
}

function versionOf (op: Version): Version {
  return { wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq }
}
