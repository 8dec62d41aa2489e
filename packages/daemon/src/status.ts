/**
 * `node_status`: what this node is, holds and knows of its peers, gathered
 * from the replica, the sync service and the node's own bookkeeping.
 */
import type { Replica, SqliteStore } from '@murmur/core'
import type { AntiEntropyStatus, NodeCounters, NodeStatus, PeerSyncStatus } from '@murmur/protocol'
import type { PeerSyncState } from './sync/sync-service.js'
import { VERSION } from './version.js'
import { isoTime } from './iso-time.js'

export type MurmurStatus = Omit<NodeStatus, 'socket'>

export interface StatusParts {
  id: string
  name: string
  group: string
  dataDir: string
  addrs: string[]
  replica: Replica
  /** Connected group members: peer ID → name. */
  members: ReadonlyMap<string, string>
  peers: ReadonlyMap<string, PeerSyncState>
  counters: NodeCounters
  maxSkewMs: number
  startedAt: number
  access: NodeStatus['access']
  reach: NodeStatus['reach']
  keepalives: NonNullable<NodeStatus['keepalives']>
  antiEntropy: AntiEntropyStatus
}

export function nodeStatus (parts: StatusParts): MurmurStatus {
  const { id, replica } = parts
  const memberIds = [...parts.members.keys()]
  const coordinator = [id, ...memberIds].sort()[0] as string
  const counts = replica.counts()
  const vector = replica.vector()
  const peerSync = peerSyncOf(parts.peers, parts.members, vector)
  const replication = replica.status()
  const marks = replica.store.changeMarks()
  return {
    id,
    name: parts.name,
    group: parts.group,
    version: VERSION,
    dataDir: parts.dataDir,
    addrs: parts.addrs,
    peers: memberIds.length,
    keys: counts.keys,
    tombstones: counts.tombstones,
    keepalives: parts.keepalives,
    mode: 'leaderless',
    role: coordinator === id ? 'COORDINATOR' : 'FOLLOWER',
    coordinator,
    versionVector: vector,
    peerSync,
    counters: { ...parts.counters, held: replication.held },
    clock: { maxSkewMs: parts.maxSkewMs, ...clockWarning(peerSync, parts.maxSkewMs) },
    uptimeMs: Date.now() - parts.startedAt,
    access: parts.access,
    reach: parts.reach,
    replication: {
      members: replication.members,
      evicted: replication.evicted,
      floors: replication.floors,
      ...(replication.blocked != null ? { collectionBlocked: replication.blocked } : {}),
      waiting: replication.waiting,
      waitingBytes: replication.waitingBytes,
      equivocators: replication.equivocators,
      conflicts: replication.conflicts,
      changes: { cursor: marks.latest, floor: marks.floor },
      antiEntropy: parts.antiEntropy
    }
  }
}

export function peerSyncOf (peers: ReadonlyMap<string, PeerSyncState>, members: ReadonlyMap<string, string>, vector: Record<string, number>): PeerSyncStatus[] {
  return [...peers].map(([id, state]) => ({
    id,
    ...(state.name != null ? { name: state.name } : {}),
    connected: members.has(id),
    ...(state.lastSyncAt != null ? { lastSync: isoTime(state.lastSyncAt), lastSyncOps: state.lastSyncOps } : {}),
    ...(state.lastError != null ? { lastError: state.lastError } : {}),
    ...(state.vector != null ? { behind: opsBehind(vector, state.vector) } : {}),
    ...(state.clockOffsetMs != null ? { clockOffsetMs: state.clockOffsetMs } : {})
  }))
}

/** Ops we have that the holder of `theirs` lacks, by what it says it holds. */
export function opsBehind (ours: Record<string, number>, theirs: Record<string, number>): number {
  let behind = 0
  for (const [origin, seq] of Object.entries(ours)) behind += Math.max(0, seq - (Object.hasOwn(theirs, origin) ? theirs[origin] ?? 0 : 0))
  return behind
}

/**
 * Blames this node's clock only when most peers agree it is off; with one
 * peer, says the two clocks disagree.
 */
export function clockWarning (peers: PeerSyncStatus[], maxSkewMs: number): { warning?: string } {
  const offsets = peers.filter(p => p.connected && p.clockOffsetMs != null).map(p => p.clockOffsetMs as number).sort((a, b) => a - b)
  const median = offsets[Math.floor(offsets.length / 2)]
  if (median == null || Math.abs(median) <= maxSkewMs / 2) return {}
  const seconds = Math.round(Math.abs(median) / 1000)
  if (offsets.length === 1) return { warning: `this node's clock and its peer's differ by ${seconds} s; one of them is wrong` }
  return { warning: `this node's clock is about ${seconds} s ${median < 0 ? 'ahead of' : 'behind'} its peers'` }
}

const HEALTH_PROBE_PADDING = '.'.repeat(64 * 1024)

/**
 * Whether the database takes a write now: 64 KiB into a meta row of this
 * node's own, never replicated (room for a typical put, not just one page),
 * and no fsync has failed since it opened.
 */
export function probeHealth (store: SqliteStore): { writable: boolean, error?: string } {
  // a write SQLite takes is not one murmurd can acknowledge once an fsync failed (see core's WalFile)
  const failure = store.wal?.failure
  if (failure !== undefined) return { writable: false, error: `an fsync of the WAL failed (${failure.message}); restart murmurd` }
  try {
    store.setMeta('health_probe', `${Date.now()} ${HEALTH_PROBE_PADDING}`)
    return { writable: true }
  } catch (err) {
    return { writable: false, error: (err as Error).message }
  }
}
