/**
 * `MurmurInit`: how a node is made. Every option is optional but `name` and
 * `dataDir`; each documents its default.
 */
import type { Logger } from 'pino'

export interface MurmurInit {
  /** A name for this node, shown to peers. */
  name: string
  /** Where the database, identity key and socket live. */
  dataDir: string
  /** Nodes replicate only with nodes of the same group. @default the group a ticket joined, else 'default' */
  group?: string
  /** Multiaddrs to listen on. @default ['/ip4/0.0.0.0/tcp/0'] */
  listen?: string[]
  /** Multiaddrs to dial and keep connected (`/p2p/<id>` optional). @default [] */
  peers?: string[]
  /**
   * Members from the peer book and discovery are dialled, in random order,
   * until this many of the node's connected peers are ones it dialled itself
   * (inbound links come on top; `peers` are always kept). @default 8
   */
  peerLinks?: number
  /**
   * While at `peerLinks`, swap one dialled link for a member not connected
   * about this often (ms, jittered); 0: never. @default 600_000
   */
  peerRotateMs?: number
  /** LAN discovery over mDNS, scoped to the group. @default true */
  mdns?: boolean
  /** Discovery through the group's private Kademlia DHT. @default true */
  dht?: boolean
  /**
   * Serve circuit relay v2 to this group's members only (a member others can
   * reach should; nodes behind NAT then reserve a slot on it). Every node,
   * relay or not, reserves on a group relay it is connected to. @default false
   */
  relay?: boolean
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
  /** Mean interval between anti-entropy pulls from a random connected peer (jittered ±50%) while the group is busy. @default 5_000 */
  antiEntropyIntervalMs?: number
  /**
   * The longest wait between anti-entropy pulls: each pull that brings nothing
   * doubles the wait up to this; anything written, received or claimed by a
   * peer brings it back to the interval. @default 12 intervals, at most 60_000
   */
  antiEntropyMaxIntervalMs?: number
  /** A tombstone every member of the group holds is collected once it is this old. @default 300_000 (5 min) */
  tombstoneGraceMs?: number
  /**
   * A member silent for longer than this (no attestation, no write) no longer
   * holds collection back. @default 604_800_000 (7 days)
   */
  tombstoneRetentionMs?: number
  /**
   * A node behind what its peers collected, with no sign it was away, takes
   * a snapshot anyway (deleting again what they collected) once it has stayed
   * behind this long. @default 30_000 (core's `STUCK_MS`)
   */
  stuckMs?: number
  /**
   * A pull whose frames bring nothing new (ops this node holds, or none) for
   * this long ends. @default 30_000 (core's `STALE_MS`)
   */
  pullStaleMs?: number
  /**
   * A sync stream whose peer sends nothing while awaited for this long
   * fails, and so does a serve whose puller takes less than 64 KiB in it (as
   * much a second in another wait). @default 20_000
   */
  syncStallMs?: number
  /** A connection whose peer does not answer a ping within this long, while nothing arrives from it and its TCP acknowledges nothing more either (three times as long while a backlog waits to go to it), is closed; pings go every half of it. @default 10_000 */
  pingTimeoutMs?: number
  /** Versions of each key kept for `history`, the current one included. @default 16 */
  historyVersions?: number
  /** Bytes of earlier values kept for `history` per key (the oldest go first). @default 1 MiB */
  historyBytes?: number
  /**
   * The group's 32-byte swarm key (`readSwarmKey(path)` reads a key file):
   * only peers holding the same key can connect. @default none
   */
  swarmKey?: Uint8Array
  /**
   * A ticket from `murmurctl invite` (or `node.invite()`): the node joins its
   * group. The ticket is checked whole first (a malformed or expired one, or
   * one for another group than `group` or the data dir's, is a
   * `ConfigError` and nothing is written); then the data dir keeps the
   * group, the swarm key (mode 0600) and the ticket's peers, so later starts
   * need neither `join` nor `group` nor `swarmKey`. @default none
   */
  join?: string
  /**
   * Peer IDs that may connect, in either direction; no other peer can, and
   * no op from another origin is taken. They are the group's members: each
   * holds collection back until it has attested (or stayed silent past the
   * retention). This node's own ID is always allowed. @default any peer
   */
  allow?: string[]
  /**
   * Keep Prometheus metrics in a registry of this node's own: `node.metrics`
   * then gives the scrape text (`await node.metrics.text()`). @default false
   */
  metrics?: boolean
  /**
   * Own writes acknowledged within this many ms of the node's last gossip
   * message wait until the window has passed and go out together, in one
   * message (at once when 8 have gathered): a replica's cost is mostly per
   * message. 0 publishes each acknowledged batch on the next turn of the
   * event loop. @default 5
   */
  publishWindowMs?: number
  /** A pino logger; the node logs through children of it. @default silent */
  logger?: Logger
}
