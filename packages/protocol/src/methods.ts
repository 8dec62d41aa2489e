/**
 * The JSON-RPC method table: each method is defined once here, and both the
 * daemon's handlers and the client's calls are typed from it.
 *
 * Params are validated with zod schemas at the daemon; results are plain
 * TypeScript types (the daemon produces them, so they need no checking).
 */
import { z } from 'zod'
import { MAX_KEY_BYTES, MAX_LIST_LIMIT, RESERVED_KEY_PREFIX } from './limits.js'

/**
 * Values are bytes. On the wire `value` is a UTF-8 string unless
 * `encoding: "base64"` accompanies it. A result carries `encoding: "base64"`
 * when the stored bytes are not valid UTF-8, or when the caller asked for it.
 */
export const ValueEncoding = z.enum(['utf8', 'base64'])
export type ValueEncoding = z.infer<typeof ValueEncoding>

export const Key = z.string()
  .min(1, 'key must not be empty')
  .refine(key => !key.startsWith(RESERVED_KEY_PREFIX), 'key must not start with U+0000: those keys are murmur\'s own records')
  .refine(key => key.isWellFormed(), 'key must be valid UTF-8 (no lone surrogates)')
  .refine(key => Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES, `key must be at most ${MAX_KEY_BYTES} bytes of UTF-8`)

/** Text stored or matched as UTF-8 must be well-formed: a lone surrogate would silently become U+FFFD. */
const wellFormed = (text: string): boolean => text.isWellFormed()
const Prefix = z.string().max(MAX_KEY_BYTES).refine(wellFormed, 'must be valid UTF-8 (no lone surrogates)')

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

export interface Entry {
  key: string
  value: string
  encoding?: 'base64'
  version: Version
}

export interface ChangeEvent {
  type: 'put' | 'delete'
  key: string
  value?: string
  encoding?: 'base64'
  version: Version
}

export interface PeerInfo {
  id: string
  addrs: string[]
  name?: string
  /** Whether the peer has completed the murmur handshake for this group. */
  member: boolean
  /** How the peer was found: given by address, mDNS, the DHT, this node's peer book, or it dialled us. */
  via?: 'explicit' | 'mdns' | 'dht' | 'peerbook' | 'inbound'
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
  /** Ops or messages refused: invalid, or stamped too far in the future. */
  rejected: number
  /** Ops waiting now because they are stamped beyond the clock-skew bound; applied once our clock catches up. */
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

/** What every member holds, and what this node may therefore collect. */
export interface ReplicationStatus {
  /** Members counted for garbage collection, this node included. */
  members: number
  /** Members silent for longer than the retention: they no longer hold collection back. */
  evicted: string[]
  /** Origin → the seq up to which every member holds its ops (what is superseded at or below it is collected). */
  floors: Record<string, number>
  /** Why collection waits, if it does (a member that has not attested yet, or disagrees with this node). */
  collectionBlocked?: string
  /** Ops received that wait for an earlier op of their origin or for the clock. */
  waiting: number
  waitingBytes: number
  /** Origins seen signing two different ops with one sequence number, and the first such seq: both ops are kept. */
  equivocators: Record<string, number>
}

/** Who may connect to the node: a closed group has a swarm key, an allow-list, or both. */
export interface AccessStatus {
  /** Only peers holding the group's swarm key can connect. */
  swarmKey: boolean
  /** How many peer IDs may connect, this node's own included; absent when any peer may. */
  allowList?: number
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
  /** Live (non-deleted) keys. */
  keys: number
  tombstones: number
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

/** The most bytes one node_backup_read returns (base64 in a frame well under the frame limit). */
export const MAX_BACKUP_CHUNK_BYTES = 4 * 1024 * 1024

const BackupId = z.string().regex(/^[0-9a-f]{16}$/, 'a backup id from node_backup')

/** A consistent copy of the node's database, made by node_backup, to read with node_backup_read. */
export interface BackupResult {
  id: string
  bytes: number
  /** SHA-256 of the whole file, hex. */
  sha256: string
}

export const methods = {
  kv_put: z.strictObject({
    key: Key,
    value: z.string().refine(wellFormed, 'value must be valid UTF-8 (no lone surrogates); send binary values base64-encoded'),
    encoding: ValueEncoding.optional()
  }),
  kv_get: z.strictObject({ key: Key, encoding: ValueEncoding.optional() }),
  kv_delete: z.strictObject({ key: Key }),
  kv_list: z.strictObject({
    prefix: Prefix.optional(),
    limit: z.number().int().min(1).max(MAX_LIST_LIMIT).optional(),
    after: Prefix.optional(),
    encoding: ValueEncoding.optional()
  }),
  kv_subscribe: z.strictObject({ prefix: Prefix.optional(), encoding: ValueEncoding.optional() }),
  kv_unsubscribe: z.strictObject({ subscription: z.string().min(1) }),
  p2p_peers: z.strictObject({}),
  p2p_connect: z.strictObject({ addr: z.string().min(1).max(1024) }),
  node_status: z.strictObject({}),
  node_health: z.strictObject({}),
  node_version: z.strictObject({}),
  // a backup is made in the daemon's data dir and read back in pieces over the same connection, which owns it
  node_backup: z.strictObject({}),
  node_backup_read: z.strictObject({
    id: BackupId,
    offset: z.number().int().min(0),
    length: z.number().int().min(1).max(MAX_BACKUP_CHUNK_BYTES)
  }),
  node_backup_end: z.strictObject({ id: BackupId })
} as const

export type MethodName = keyof typeof methods
export type Params<M extends MethodName> = z.infer<(typeof methods)[M]>

export interface Results {
  kv_put: { version: Version }
  kv_get: Entry | null
  kv_delete: { deleted: boolean, version?: Version }
  kv_list: { items: Entry[], next?: string }
  kv_subscribe: string
  kv_unsubscribe: boolean
  p2p_peers: PeerInfo[]
  p2p_connect: { id: string }
  node_status: NodeStatus
  node_health: HealthResult
  node_version: VersionResult
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
  result: ChangeEvent
}

export function isMethodName (name: string): name is MethodName {
  return Object.hasOwn(methods, name)
}
