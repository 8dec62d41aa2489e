/**
 * The metrics read when Prometheus scrapes: counters from the tallies the
 * node keeps anyway, gauges from its state. Each scrape reads the node once
 * (one `Snapshot`, shared by every metric of that scrape), so the write path
 * pays nothing for them.
 *
 * Per-peer series cover the group members connected now: a peer that leaves
 * drops out at the next scrape, so their number is bounded by the connected
 * peers.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import type { Registry } from 'prom-client'
import { promClient } from './prom.js'
import { opsBehind } from '../status.js'
import { VERSION } from '../version.js'
import type { Running } from '../compose.js'
import type { Replication } from '../replication.js'

export interface ScrapeComponents {
  /** The node's running parts; undefined while it is stopped (gauges then report nothing, counters their last value). */
  running: () => Running | undefined
  replication: Replication
  /** Connected group members: peer ID → name. */
  members: ReadonlyMap<string, string>
  dataDir: string
  name: string
  group: string
}

interface PeerRow {
  labels: { peer: string, name: string }
  /** Ops this node holds that the peer lacked at its last sync hello. */
  behind?: number
  /** Ops the peer held at its last sync hello that this node lacks. */
  ahead?: number
  sinceSync?: number
  clockOffset?: number
}

interface Snapshot {
  id: string
  written: number
  keys: number
  tombstones: number
  held: number
  waiting: number
  waitingBytes: number
  via: Map<string, number>
  peersHeld: { found: number, candidates: number, records: number }
  peers: PeerRow[]
  databaseBytes: number
  walBytes: number
}

/** Registers every scrape-time metric of a node in `registry`. */
export function registerScrapeTime (registry: Registry, components: ScrapeComponents): void {
  const { replication } = components
  const { Counter, Gauge } = promClient()
  const registers = [registry]
  let cached: { snapshot?: Snapshot } | undefined
  /** A scrape collects every metric in one synchronous pass, so a snapshot lives until the next microtask. */
  const snap = (): Snapshot | undefined => {
    if (cached === undefined) {
      cached = { snapshot: take(components) }
      queueMicrotask(() => { cached = undefined })
    }
    return cached.snapshot
  }
  const counter = (name: string, help: string, read: () => number | undefined): void => {
    new Counter({ name, help, registers, collect () {
      const value = read()
      if (value === undefined) return
      this.reset()
      this.inc(value)
    } })
  }
  const tally = (name: string, help: string, label: string, read: () => Record<string, number>): void => {
    new Counter({ name, help, labelNames: [label], registers, collect () {
      this.reset()
      for (const [value, count] of Object.entries(read())) this.inc({ [label]: value }, count)
    } })
  }
  const gauge = (name: string, help: string, read: (s: Snapshot) => number): void => {
    new Gauge({ name, help, registers, collect () {
      const s = snap()
      if (s === undefined) this.reset()
      else this.set(read(s))
    } })
  }
  const perPeer = (name: string, help: string, read: (row: PeerRow) => number | undefined): void => {
    new Gauge({ name, help, labelNames: ['peer', 'name'], registers, collect () {
      this.reset()
      for (const row of snap()?.peers ?? []) {
        const value = read(row)
        if (value !== undefined) this.set(row.labels, value)
      }
    } })
  }

  new Gauge({
    name: 'murmur_node_info',
    help: 'This node: its name, group, peer ID and murmur version (always 1).',
    labelNames: ['name', 'group', 'peer_id', 'version'],
    registers,
    collect () {
      const s = snap()
      this.reset()
      if (s !== undefined) this.set({ name: components.name, group: components.group, peer_id: s.id, version: VERSION }, 1)
    }
  })
  counter('murmur_ops_written_total', 'Ops this node has written: puts, deletes and its own attestations (its sequence number, kept across restarts).', () => snap()?.written)
  counter('murmur_ops_gossiped_total', 'Ops from gossip that changed this replica.', () => replication.counters.gossiped)
  counter('murmur_ops_repaired_total', 'Ops from sync pulls (and ops the clock let through) that changed this replica: what gossip missed.', () => replication.counters.repaired)
  tally('murmur_ops_refused_total', 'Ops from peers refused by the replica, by reason: signature, origin (not on the allow-list), record (a malformed reserved record), future (stamped too far ahead), order (stamped before its origin\'s previous op).', 'reason', () => replication.refusedBy)
  tally('murmur_gossip_messages_rejected_total', 'Gossip messages rejected before they were applied or forwarded, by reason: malformed, or the reason of their first refused op (their ops are not in murmur_ops_refused_total).', 'reason', () => components.running()?.gossip.rejectedBy ?? {})
  tally('murmur_gossip_messages_throttled_total', 'Gossip messages ignored unchecked, not forwarded, by whose allowance was spent: sender (the peer that sent it: 5,000 a second, an op held here already costing one more), origin (the writer of an op in it: 100 ops a second checked and not kept); what they held comes by sync.', 'reason', () => components.running()?.gossip.throttled ?? {})
  tally('murmur_gossip_ops_charged_total', 'Ops of gossip messages charged to an allowance, by whose: sender (held here already, an owing writer\'s, or checked in a rejected message; and batch signatures checked past a message\'s first), origin (checked and not kept: stamped over an hour ahead, out of order, left for sync, no room to wait).', 'to', () => components.running()?.gossip.charged ?? {})
  counter('murmur_gossip_messages_published_total', 'Gossip messages this node published with its own ops (a few ops each when they come faster than one per --publish-window, 5 ms by default).', () => replication.outbound.sent.messages)
  counter('murmur_gossip_ops_published_total', 'Ops this node published by gossip, in those messages.', () => replication.outbound.sent.ops)
  gauge('murmur_gossip_publish_window_seconds', 'How long own ops acknowledged after a gossip message wait for the next: --publish-window, or, once a message per write would take more than a quarter of the time between writes (until a tenth or less), 10 times what a publish takes lately (at most 4 times --publish-window).', () => replication.outbound.window / 1000)
  counter('murmur_tombstones_collected_total', 'Tombstones collected once every member held them.', () => replication.counters.collected)
  gauge('murmur_ops_held', 'Ops from peers waiting for this node\'s clock: stamped beyond --max-clock-skew ahead of it, and within the hour an op may be held (one stamped further waits only for an earlier op, and is refused).', s => s.held)
  gauge('murmur_ops_waiting', 'Ops from peers waiting for an earlier op of their writer or for the clock (held ones included).', s => s.waiting)
  gauge('murmur_ops_waiting_bytes', 'Bytes of the waiting ops (the budget is 64 MiB).', s => s.waitingBytes)
  gauge('murmur_keys', 'Live keys in this replica (an expired value counts until it is collected, as in status).', s => s.keys)
  gauge('murmur_tombstones', 'Deleted keys whose tombstones this replica still holds.', s => s.tombstones)
  gauge('murmur_database_size_bytes', 'Size of murmur.db.', s => s.databaseBytes)
  gauge('murmur_wal_size_bytes', 'Size of murmur.db-wal, the write-ahead log.', s => s.walBytes)
  gauge('murmur_members_connected', 'Group members connected now (peers that completed the sync handshake).', s => s.peers.length)
  new Gauge({
    name: 'murmur_peers_connected',
    help: 'libp2p peers connected now, by how they were found: explicit (--peer or connect), mdns, dht, peerbook, inbound, ticket (named by the ticket this node joined with).',
    labelNames: ['via'],
    registers,
    collect () {
      this.reset()
      for (const [via, count] of snap()?.via ?? []) this.set({ via }, count)
    }
  })
  new Gauge({
    name: 'murmur_peers_held',
    help: 'Peers this node holds something of: records in libp2p\'s peer store (peer_store), dial candidates (dialer), notes of how they were found (found). Of peers neither connected nor members, at most 1,024, 256 and 1,024.',
    labelNames: ['in'],
    registers,
    collect () {
      this.reset()
      const held = snap()?.peersHeld
      if (held === undefined) return
      this.set({ in: 'peer_store' }, held.records)
      this.set({ in: 'dialer' }, held.candidates)
      this.set({ in: 'found' }, held.found)
    }
  })
  perPeer('murmur_peer_ops_behind', 'Ops this node holds that a connected member lacked at its last sync hello: how far the peer is behind.', row => row.behind)
  perPeer('murmur_peer_ops_ahead', 'Ops a connected member held at its last sync hello that this node lacks: how far this node is behind it.', row => row.ahead)
  perPeer('murmur_peer_last_sync_age_seconds', 'Seconds since the last completed sync pull from a connected member.', row => row.sinceSync)
  perPeer('murmur_peer_clock_offset_seconds', 'A connected member\'s clock minus this node\'s, as estimated at the last sync.', row => row.clockOffset)
}

function take (components: ScrapeComponents): Snapshot | undefined {
  const running = components.running()
  if (running === undefined) return undefined
  const { replica, libp2p, discovery } = running
  const id = libp2p.peerId.toString()
  const counts = replica.counts()
  const status = replica.status()
  const vector = replica.vector()
  const via = new Map<string, number>()
  for (const peer of libp2p.getPeers()) {
    const source = discovery.source(peer.toString()) ?? 'unknown'
    via.set(source, (via.get(source) ?? 0) + 1)
  }
  const now = Date.now()
  const peers: PeerRow[] = []
  for (const [peer, name] of components.members) {
    const state = libp2p.services.sync.peers.get(peer)
    peers.push({
      labels: { peer, name: state?.name ?? name },
      ...(state?.vector != null ? { behind: opsBehind(vector, state.vector), ahead: opsBehind(state.vector, vector) } : {}),
      ...(state?.lastSyncAt != null ? { sinceSync: (now - state.lastSyncAt) / 1000 } : {}),
      ...(state?.clockOffsetMs != null ? { clockOffset: state.clockOffsetMs / 1000 } : {})
    })
  }
  const database = join(components.dataDir, 'murmur.db')
  return {
    id,
    written: vector[id] ?? 0,
    keys: counts.keys,
    tombstones: counts.tombstones,
    held: status.held,
    waiting: status.waiting,
    waitingBytes: status.waitingBytes,
    via,
    peersHeld: discovery.held,
    peers,
    databaseBytes: fileSize(database),
    walBytes: fileSize(`${database}-wal`)
  }
}

function fileSize (path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0
}
