/**
 * The wire types of the JSON-RPC contract: what the daemon returns and what
 * a subscription delivers. Plain TypeScript with no runtime dependency, so a
 * client (murmurctl) can use them without loading the zod schemas in
 * `methods.ts`.
 */
import type { HistoryEntry } from './history-results.js'
import type { MethodName } from './methods.js'
import type { ReplicationStatus } from './replication-results.js'

export type { HistoryEntry } from './history-results.js'
export type { AntiEntropyStatus, ReplicationStatus } from './replication-results.js'

/** A value's version: its hybrid logical clock stamp, origin node and that node's sequence number. */
export interface Version {
  /** Wall-clock part of the HLC, milliseconds since the epoch. */
  wall: number
  /** Logical counter of the HLC, for events within one millisecond. */
  logical: number
  /** Peer ID of the node that wrote the value; breaks ties between equal clocks. */
  origin: string
  /** The origin's sequence number for this write. */
  seq: number
}

/** What a value is (see `ValueType` in methods.ts). */
export type WireValueType = 'text' | 'json' | 'binary'

/**
 * A key's value: a string for text, base64 (`encoding`) for binary (and for
 * text that is not valid UTF-8), the JSON itself for json (base64 with
 * `encoding` if a peer wrote json that does not parse).
 */
export interface Entry {
  key: string
  value: unknown
  encoding?: 'base64'
  /** Absent from daemons that predate value types (their values are text). */
  type?: WireValueType
  version: Version
  /** When the value expires: an HLC wall time in ms (absent when it never does). */
  expires?: number
}

export interface ChangeEvent {
  /** 'expire': the key's value expired (it reads as absent, as after a delete). `conflict`: a version of the key (`value`, `version`; no value when it was a delete) lost to a write that had not seen it. */
  type: 'put' | 'delete' | 'expire' | 'conflict'
  key: string
  value?: unknown
  encoding?: 'base64'
  /** A put's value type (`type` is the kind of change). */
  valueType?: WireValueType
  version: Version
  /** A put's expiry (HLC wall ms), when it has one. */
  expires?: number
  /** This node's number for the change: pass the last one seen as `since` to resume (absent from daemons before cursors). */
  cursor?: number
  /** A conflict whose losing version was a delete. */
  deleted?: boolean
}

/**
 * Sent to a subscription with `since` when the changes after it are gone:
 * the current state of its prefixes, in pages; the last page has `last`.
 * Replace what you hold under the prefixes with it.
 */
export interface SnapshotEvent {
  type: 'snapshot'
  entries: Entry[]
  last: boolean
  cursor: number
}

/** Ends the replay (or snapshot) of a subscription with `since`: live events follow; `cursor` is where it stands. */
export interface ReadyEvent {
  type: 'ready'
  cursor: number
}

/** What a subscription delivers: changes, and for one with `since` its snapshot pages and its ready mark. */
export type WatchEvent = ChangeEvent | SnapshotEvent | ReadyEvent

export interface PeerInfo {
  id: string
  addrs: string[]
  name?: string
  /** Whether the peer has completed the murmur handshake for this group. */
  member: boolean
  /** How the peer was found: given by address, mDNS, the DHT, this node's peer book, it dialled us, or a ticket named it. */
  via?: 'explicit' | 'mdns' | 'dht' | 'peerbook' | 'inbound' | 'ticket'
  /** Whether this node dialled the peer (a connection of its own making): `--peer-links` bounds how many such peers it dials. */
  dialled?: boolean
  /** `direct`, or `relayed` through a group relay (`relay`, its peer ID) when no direct connection exists. */
  connection?: 'direct' | 'relayed'
  relay?: string
  /**
   * For a member: whether gossipsub counts it as subscribed to the group's
   * topic. `false` means writes reach it (and its writes reach this node)
   * only by anti-entropy until the connection is replaced.
   */
  gossip?: boolean
  /**
   * For a member: whether it is in this node's gossip mesh for the topic, so
   * gossipsub forwards it every message at once. One outside it (`false`)
   * hears of forwarded messages by IHAVE once a heartbeat (1 s) and asks for
   * them; gossipsub keeps 6 to 12 members in a mesh, so in a group with more
   * connected members some are outside it by design.
   */
  mesh?: boolean
}

/** What this node knows of one peer's replication state. */
export interface PeerSyncStatus {
  id: string
  name?: string
  connected: boolean
  /** When this node last completed a pull from the peer (ISO 8601). */
  lastSync?: string
  /** Ops that pull brought in. */
  lastSyncOps?: number
  /** Why the last pull from the peer failed, if it did. */
  lastError?: string
  /** Ops this node has that the peer lacked, by the peer's latest known version vector. */
  behind?: number
  /** The peer's clock minus this node's, in ms, estimated at the last handshake. */
  clockOffsetMs?: number
}

export interface NodeCounters {
  /** Ops that sync (catch-up, anti-entropy, repair) or the clock releasing held ops brought in and that changed a key. */
  repaired: number
  /** Ops that gossip brought in and that changed a key. */
  gossiped: number
  /** Ops from peers refused: invalid, or stamped too far in the future (the sum of `murmur_ops_refused_total`). */
  rejected: number
  /**
   * Gossip messages rejected before they were applied: malformed, or holding an op the replica refuses (its ops
   * are not in `rejected`; the sum of `murmur_gossip_messages_rejected_total`). Absent from daemons before this field.
   */
  rejectedMessages?: number
  /**
   * Gossip messages ignored unchecked because the peer that sent them, or the writer of an op in them, had spent its
   * allowance (the sum of `murmur_gossip_messages_throttled_total`): what they held comes by sync instead, seconds
   * later. Absent from daemons before this field.
   */
  throttledMessages?: number
  /**
   * Ops waiting now because they are stamped beyond the clock-skew bound (and within the hour an op may be held);
   * applied once our clock catches up. One stamped further than that is not held: it is refused when its turn comes.
   */
  held: number
  /** Tombstones garbage-collected since start. */
  collected: number
}

export interface ClockStatus {
  /** Remote ops stamped further than this ahead of our clock wait (are held). */
  maxSkewMs: number
  /** Set when this node's clock disagrees with its peers' by more than half the bound. */
  warning?: string
}

/** Who may connect to the node: a closed group has a swarm key, an allow-list, or both. */
export interface AccessStatus {
  /** Only peers holding the group's swarm key can connect. */
  swarmKey: boolean
  /** How many peer IDs may connect, this node's own included; absent when any peer may. */
  allowList?: number
}

/** How this node is reached from other networks. */
export interface ReachStatus {
  /**
   * `public`: an address of its own on a public IP that AutoNAT confirmed
   * (a member dialled it back); `unknown`: a public address nobody has
   * dialled back yet, or no address of its own; `private`: all its own
   * addresses are private (a LAN, or behind NAT), so other networks reach it
   * through a relay.
   */
  reachability: 'public' | 'private' | 'unknown'
  /** Group relays this node holds a reservation on (peer IDs): its relayed addresses are in `addrs`. */
  relays: string[]
  /** Present when this node serves as a relay (`--relay`): reservations held on it now. */
  relayServer?: { reservations: number }
}

export interface NodeStatus {
  id: string
  name: string
  group: string
  version: string
  dataDir: string
  socket: string
  addrs: string[]
  /** Connected peers that are members of this group. */
  peers: number
  /** Live (non-deleted) keys; an expired value counts until it is collected. */
  keys: number
  tombstones: number
  /** Keys this node keeps alive (`kv_put` with `keepalive`), with their TTLs (absent from daemons before keepalives). */
  keepalives?: Array<{ key: string, ttlMs: number }>
  /** murmur has no leader; `role` is relative to the deterministic coordinator. */
  mode: 'leaderless'
  role: 'COORDINATOR' | 'FOLLOWER'
  /** The lowest peer ID among this node and its connected group peers. */
  coordinator: string
  versionVector: Record<string, number>
  peerSync: PeerSyncStatus[]
  counters: NodeCounters
  clock: ClockStatus
  uptimeMs: number
  /** Optional, so clients still read daemons that predate it. */
  access?: AccessStatus
  /** Optional, so clients still read daemons that predate it. */
  replication?: ReplicationStatus
  /** Optional, so clients still read daemons that predate it. */
  reach?: ReachStatus
}

/** node_health: what a probe needs to know. */
export interface HealthResult {
  /** The database took a write just now (a row of this node's own, never replicated). */
  writable: boolean
  /** Why it did not. */
  error?: string
  /** Connected group members. */
  members: number
  /** Connected peers, members or not. */
  peers: number
}

/** node_version: the daemon's version and the protocols it speaks. */
export interface VersionResult {
  version: string
  /** The Node.js version murmurd runs on. */
  node: string
  protocols: { rpc: string, sync: string, gossip: string }
}

/** node_invite: a ticket for joining this node's group (see ticket.ts). */
export interface InviteResult {
  ticket: string
  group: string
  /** When the ticket stops being accepted (ISO 8601). */
  expires: string
  /** The ticket holds the group's swarm key: it is a secret, as the key file is. */
  closed: boolean
  /** The inviting node has an allow-list: the new node is refused until its peer ID is on every member's list. */
  allowList: boolean
  /** The addresses the ticket carries. */
  addrs: string[]
}

/** A consistent copy of the node's database, made by node_backup, to read with node_backup_read. */
export interface BackupResult {
  id: string
  bytes: number
  /** SHA-256 of the whole file, hex. */
  sha256: string
}

export interface Results {
  kv_put: { version: Version }
  /** With `conflicts`: the entry's `conflicts` lists the losing versions still in history. */
  kv_get: (Entry & { conflicts?: HistoryEntry[] }) | null
  kv_history: { key: string, versions: HistoryEntry[] }
  kv_revert: { version: Version }
  kv_delete: { deleted: boolean, version?: Version }
  kv_list: { items: Entry[], next?: string }
  kv_subscribe: string
  kv_unsubscribe: boolean
  p2p_peers: PeerInfo[]
  p2p_connect: { id: string }
  node_status: NodeStatus
  node_health: HealthResult
  node_version: VersionResult
  node_invite: InviteResult
  node_backup: BackupResult
  /** `data`: base64 of the bytes from `offset` (fewer than `length` only at the end of the file). */
  node_backup_read: { data: string }
  node_backup_end: boolean
}

export type Result<M extends MethodName> = Results[M]

/** The notification a subscription delivers on its connection. */
export const SUBSCRIPTION_NOTIFICATION = 'kv_subscription'

export interface SubscriptionNotification {
  subscription: string
  result: WatchEvent
}
