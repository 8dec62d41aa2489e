/**
 * A murmur node: a full replica of one group's key-value map, kept in SQLite
 * and replicated over libp2p. murmurd is a thin shell over this class, and a
 * program can embed it directly (see `createMurmur`).
 *
 * This is the node's life cycle and public API: `compose` builds its parts,
 * the replica (@murmur/core) decides, `Replication` runs its decisions on
 * real time and peers, gossip and sync move bytes, and `Writes` checks and
 * commits this node's writes.
 */
import './polyfill.js'
import { EventEmitter } from 'node:events'
import { DEFAULT_MAX_VALUE_BYTES, type HealthResult, type InviteResult, type Ticket } from '@murmur/protocol'
import { pino, type Logger } from 'pino'
import { parsePeerId } from './allow-list.js'
import { writeBackup, type BackupInfo } from './backup.js'
import { compose, shutdown, type Running } from './compose.js'
import { createInvite } from './invite.js'
import { Members } from './members.js'
import { resolveMembership } from './membership.js'
import { prepareDataDir } from './data-dir.js'
import { NotStartedError } from './errors.js'
import { NodeMetrics } from './metrics/node-metrics.js'
import { dialAddress, summarisePeer } from './peer-info.js'
import { ownAddrs, reachOf } from './reach.js'
import { checkedLinks, checkedRotate } from './peer-dialer.js'
import { Replication } from './replication.js'
import { Turns } from './turns.js'
import { clockWarning, nodeStatus, peerSyncOf, probeHealth, type MurmurStatus } from './status.js'
import { Writes, checkKey, type Condition, type PutOptions, type Write, type WriteOutcome } from './writes.js'
import type { MurmurInit } from './init.js'
import { ChangeEvents } from './change-events.js'
import { entryOf, listEntries, type Entry, type MurmurEvents, type PeerSummary } from './entry.js'
import { readHistory, revertKey, type HistoryVersion } from './key-history.js'
import { ReplayReader, replay, type Replay } from './replay.js'
import type { Version } from '@murmur/core'
import type { PeerId } from '@libp2p/interface'

export type { ChangeEvent, MurmurEvents, PeerSummary } from './entry.js'

export class Murmur extends EventEmitter<MurmurEvents> {
  readonly name: string
  readonly group: string
  readonly dataDir: string
  readonly maxValueBytes: number
  /** This node's Prometheus metrics, when `init.metrics` is set. */
  readonly metrics?: NodeMetrics
  private readonly init: MurmurInit
  private readonly log: Logger
  private readonly members: Members
  private readonly allowed?: Set<string>
  /** The group's key: from the options, a ticket, or the data dir a ticket was joined into. */
  private readonly swarmKey?: Uint8Array
  /** A checked ticket, stored in the data dir once the node holds its lock. */
  private readonly ticket?: Ticket
  private readonly replication: Replication
  private readonly writes: Writes
  private running?: Running
  private readonly turns = new Turns()
  private readonly events = new ChangeEvents(event => this.emit('change', event), () => this.running, () => this.listenerCount('change') > 0)

  constructor (init: MurmurInit) {
    super()
    this.init = init
    this.name = init.name
    if (init.peerLinks !== undefined) checkedLinks(init.peerLinks)
    if (init.peerRotateMs !== undefined) checkedRotate(init.peerRotateMs)
    // before the data dir is made: a bad ticket or a conflict leaves nothing behind
    const membership = resolveMembership({ dataDir: init.dataDir, group: init.group, swarmKey: init.swarmKey, join: init.join })
    this.group = membership.group
    this.swarmKey = membership.swarmKey
    this.ticket = membership.ticket
    this.dataDir = prepareDataDir(init.dataDir)
    this.maxValueBytes = init.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES
    this.log = init.logger ?? pino({ level: 'silent' })
    this.members = new Members({ log: this.log, joined: peer => { this.emit('peer:member', this.summarise(peer)) } })
    if (init.allow != null) this.allowed = new Set(init.allow.map(id => parsePeerId(id, 'the allow-list')))
    this.replication = new Replication({
      durability: init.durability ?? 'full',
      antiEntropyIntervalMs: init.antiEntropyIntervalMs ?? 5_000, antiEntropyMaxIntervalMs: init.antiEntropyMaxIntervalMs,
      tombstoneGraceMs: init.tombstoneGraceMs ?? 300_000, maxClockSkewMs: init.maxClockSkewMs ?? 60_000,
      publishWindowMs: init.publishWindowMs, log: this.log.child({ component: 'replication' })
    })
    if (init.metrics === true) {
      this.metrics = new NodeMetrics({ running: () => this.running, replication: this.replication, members: this.members, dataDir: this.dataDir, name: this.name, group: this.group })
    }
    this.writes = new Writes({ running: () => this.state() }, { maxValueBytes: this.maxValueBytes, log: this.log, metrics: this.metrics })
  }

  get isRunning (): boolean {
    return this.running != null
  }

  /** This node's peer ID (also the origin of its writes). */
  get peerId (): string {
    return this.state().libp2p.peerId.toString()
  }

  /** Multiaddrs to reach this node at (announced, then listening; relayed too), each ending in `/p2p/<peerId>`. */
  get addrs (): string[] {
    return ownAddrs(this.state().libp2p)
  }

  /** Whether `peerId` may connect: any peer without an allow-list; with one, the peers on it and this node. */
  isAllowed (peerId: string): boolean {
    return this.allowed == null || this.allowed.has(peerId)
  }

  async start (): Promise<void> {
    await this.turns.run(async () => { await this.startNow() })
  }

  /** Resolves once the node is stopped, whatever start() or stop() it finds under way (see turns.ts). */
  async stop (): Promise<void> {
    await this.turns.run(async () => { await this.stopNow() })
  }

  private async startNow (): Promise<void> {
    if (this.running != null) return
    const running = await compose(
      { ...this.init, group: this.group, swarmKey: this.swarmKey, ticket: this.ticket, dataDir: this.dataDir, maxValueBytes: this.maxValueBytes, allowed: this.allowed },
      {
        log: this.log,
        replication: this.replication,
        isMember: peer => this.members.has(peer),
        memberConnected: (peer, name) => {
          void this.running?.discovery.remember(peer, name)
          this.members.connected(peer, name)
        },
        disconnected: peer => { this.members.disconnected(peer) },
        metrics: this.metrics,
        committed: ops => { this.events.committed(ops) }, lost: ops => { this.events.lost(ops) }
      }
    )
    this.events.reset()
    try {
      await running.libp2p.start()
      this.running = running
      running.gossip.start()
      running.discovery.start()
      this.replication.start({
        replica: running.replica, store: running.store,
        gossip: running.gossip, sync: running.libp2p.services.sync,
        members: () => running.libp2p.getPeers().filter(p => this.members.has(p.toString())),
        visit: peer => { running.discovery.visit(peer) },
        write: async changes => await this.writes.submit(changes),
        changed: (op, source) => { this.events.changed(op, source) },
        peerChanged: (changed, conflicts, source) => { this.events.peerChanged(changed, conflicts, source) },
        caughtUp: () => { this.writes.keepalives.caughtUp() },
        clockWarning: () => clockWarning(peerSyncOf(running.libp2p.services.sync.peers, this.members, {}), this.init.maxClockSkewMs ?? 60_000).warning
      })
      this.writes.keepalives.start()
      this.log.info({ peerId: running.libp2p.peerId.toString(), group: this.group, addrs: this.addrs }, 'node started')
    } catch (err) {
      // undo whatever started (each step may find its part never started), so a retry can start the node again
      this.running = undefined
      this.replication.stop()
      await shutdown(running).catch(() => {})
      throw err
    }
  }

  private async stopNow (): Promise<void> {
    const running = this.running
    if (running == null) return
    this.running = undefined
    await running.writeQueue.drained() // writes taken before stop() commit (keepalives too); later ones are NotStartedError
    this.writes.keepalives.stop()
    this.replication.stop()
    try {
      await shutdown(running)
    } finally {
      this.members.clear()
    }
    this.log.info('node stopped')
  }

  /**
   * Writes a consistent copy of the node's database to `path` (a new file), marked as a backup of this
   * node: restored, it runs under a new peer ID (see backup.ts). `progress` hears pages copied of the total.
   */
  async backup (path: string, progress?: (done: number, total: number) => void): Promise<BackupInfo> {
    return await writeBackup(this.state().store, path, this.peerId, progress)
  }

  /** For probes: whether the database takes a write now (see `probeHealth`), and who is connected. */
  health (): HealthResult {
    return { ...probeHealth(this.state().store), members: this.members.size, peers: this.state().libp2p.getPeers().length }
  }

  /**
   * Writes `value` under `key` (`options.type`: text by default; a json value
   * must parse); resolves once the write is committed to disk. With
   * `ifVersion` or `ifAbsent` it commits only if the key is so on this node at
   * the commit, else rejects with `ConditionFailedError`; `ttlMs`, `keepalive`: see `PutOptions`.
   */
  async put (key: string, value: Uint8Array | string, options: PutOptions = {}): Promise<Version> {
    return await this.writes.put(key, value, options)
  }

  get (key: string): Entry | undefined {
    checkKey(key)
    const op = this.state().replica.get(key)
    return op?.value == null ? undefined : entryOf(op)
  }

  /**
   * `key`'s versions this node holds, newest first (the current one, then
   * its history; see key-history.ts), at most `limit` (default: all kept).
   * `conflicts`: only the past versions that lost to a write that had not seen them.
   */
  history (key: string, options: { limit?: number, conflicts?: boolean } = {}): HistoryVersion[] {
    checkKey(key)
    return readHistory(this.state().replica, key, options, peer => peer === this.peerId ? this.name : this.members.get(peer) ?? this.state().discovery.nameOf(peer))
  }

  /** Writes `key`'s version `version` (one `history` lists) again as a new write: its value and type, or a delete. */
  async revert (key: string, version: { origin: string, seq: number }): Promise<Version> {
    checkKey(key)
    return await revertKey(this.writes, this.state().replica, key, version)
  }

  /**
   * Deletes `key` (a tombstone that replicates). `deleted` is false when there
   * was nothing to delete; with `ifVersion`, a key not at that version is a
   * `ConditionFailedError` instead.
   */
  async delete (key: string, options: Condition = {}): Promise<{ deleted: boolean, version?: Version }> {
    return await this.writes.delete(key, options)
  }

  /**
   * Puts (a value) and deletes (`value: null`) committed together: one
   * transaction and one promise however many there are. Each settles as its
   * own `put()` or `delete()` would have, had they all been called at once:
   * an invalid one fails alone, and deletes see the keys as they stood before
   * these writes.
   */
  async writeMany (writes: Write[]): Promise<Array<PromiseSettledResult<WriteOutcome>>> {
    return await this.writes.writeMany(writes)
  }

  /** Live entries in key order, a page at a time: pass `next` back as `after`. */
  list (options: { prefix?: string, after?: string, limit?: number } = {}): { items: Entry[], next?: string } {
    return listEntries(this.state().replica, options)
  }

  /**
   * For a watch that resumes from `since` (a `cursor` of an earlier change
   * event): what changed after it, or a snapshot when that is gone (see
   * replay.ts). Change events numbered up to `cursor` are covered by it.
   * `replayFrom` reads it a page at a time and tells which live events follow it.
   */
  changesSince (since: number | undefined, prefixes: string[] = []): Replay {
    return replay(this.state().store, this.state().replica, since, prefixes)
  }

  replayFrom (since: number | undefined, prefixes: string[] = [], pageSize?: number): ReplayReader {
    return new ReplayReader(this.state().store, this.state().replica, since, prefixes, pageSize)
  }

  /** Dials a multiaddr and keeps nothing else: the peer is not redialled if it drops. */
  async connect (addr: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    return await dialAddress(this.state().libp2p, addr, options)
  }

  /** Connected peers, with group membership and names learned from the sync handshake. */
  peers (): PeerSummary[] {
    return this.state().libp2p.getPeers().map(peer => this.summarise(peer))
  }

  /** A ticket for joining this node's group, valid for `expiresInMs`: a secret when the group has a swarm key. */
  invite (expiresInMs: number): InviteResult {
    return createInvite({ group: this.group, inviter: this.peerId, addrs: this.addrs, swarmKey: this.swarmKey, allowList: this.allowed != null, expiresInMs })
  }

  status (): MurmurStatus {
    const { replica, startedAt, libp2p, gossip } = this.state()
    return nodeStatus({
      id: this.peerId, name: this.name, group: this.group, dataDir: this.dataDir, addrs: this.addrs,
      replica, members: this.members, peers: libp2p.services.sync.peers,
      counters: { ...this.replication.counters, rejectedMessages: gossip.rejected, throttledMessages: gossip.throttled.sender + gossip.throttled.origin },
      maxSkewMs: this.init.maxClockSkewMs ?? 60_000, startedAt,
      access: { swarmKey: this.swarmKey != null, ...(this.allowed != null ? { allowList: this.allowed.size } : {}) },
      reach: reachOf(libp2p),
      keepalives: this.writes.keepalives.list(), antiEntropy: this.replication.antiEntropy.status()
    })
  }

  private state (): Running {
    if (this.running == null) throw new NotStartedError('the murmur node is not running; call start() first')
    return this.running
  }

  private summarise (peer: PeerId): PeerSummary {
    const { libp2p, discovery, gossip } = this.state()
    return summarisePeer(libp2p, discovery, this.members, peer, gossip)
  }
}
