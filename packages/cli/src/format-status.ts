import type { AccessStatus, NodeStatus, ReachStatus, PeerSyncStatus, ReplicationStatus } from '@murmur/protocol/client'
import { countOf, displayText, formatBytes, formatDuration, labelled } from './format.js'

export function formatStatus (status: NodeStatus): string {
  return labelled([
    ['name', status.name],
    ['id', status.id],
    ['group', status.group],
    ['version', status.version],
    ['role', formatRole(status)],
    ['peers', String(status.peers)],
    ['keys', String(status.keys)],
    ['tombstones', String(status.tombstones)],
    ...(status.keepalives != null && status.keepalives.length > 0 ? [['keepalives', status.keepalives.map(k => `${k.key} (ttl ${k.ttlMs / 1000} s)`).join('\n')] as [string, string]] : []),
    ['ops', formatCounters(status)],
    ['clock', formatClock(status)],
    ...(status.access != null ? [accessRow(status.access)] : []),
    ...(status.reach != null ? [reachRow(status.reach)] : []),
    ...(status.replication != null ? replicationRows(status.replication) : []),
    ['sync', status.peerSync.map(formatPeerSync).join('\n') || '(no peers yet)'],
    ['uptime', formatDuration(status.uptimeMs)],
    ['data dir', status.dataDir],
    ['socket', status.socket],
    ['addrs', status.addrs.join('\n') || '(none)'],
    ['versions', formatVersionVector(status)]
  ])
}

function formatRole ({ role, mode, coordinator }: NodeStatus): string {
  return role === 'COORDINATOR'
    ? `${role} (${mode}; this node is the coordinator)`
    : `${role} (${mode}; coordinator ${coordinator})`
}

/**
 * One `origin seq` line per writer this node has seen, its own marked, with
 * the origin's collection floor: the floors are per origin like the vector,
 * and a line of their own each would repeat every 52-character peer ID.
 */
function formatVersionVector ({ versionVector, id, replication }: NodeStatus): string {
  const floors = new Map(Object.entries(replication?.floors ?? {}))
  const lines = Object.entries(versionVector)
    .sort(([a], [b]) => compare(a, b))
    .map(([origin, seq]) => {
      const notes = [...(origin === id ? ['this node'] : []), ...(floors.has(origin) ? [`floor ${floors.get(origin)}`] : [])]
      return `${origin} ${seq}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`
    })
  return lines.join('\n') || '(empty)'
}

function compare (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Members (equivocators as warnings under them, then the evicted), whether
 * collection runs, and ops waiting only when there are some. The floors
 * themselves are under `versions`.
 */
function replicationRows (replication: ReplicationStatus): Array<[string, string]> {
  const { members, evicted, floors, collectionBlocked, waiting, waitingBytes, equivocators } = replication
  const warnings = Object.entries(equivocators)
    .sort(([a], [b]) => compare(a, b))
    .map(([origin, seq]) => `WARNING: ${origin} signed two different ops with seq ${seq}; both are kept`)
  const floorCount = Object.keys(floors).length
  const rows: Array<[string, string]> = [
    ['members', [
      `${members} (this node included)`,
      ...warnings,
      ...[...evicted].sort(compare).map(member => `evicted ${member} (silent past the retention)`)
    ].join('\n')],
    ['collection', [
      floorCount === 0 ? 'no floors yet' : `floors on ${countOf(floorCount, 'origin')} (under versions)`,
      ...(collectionBlocked != null ? [`blocked: ${collectionBlocked}`] : [])
    ].join('\n')]
  ]
  if (replication.conflicts !== undefined) {
    rows.push(['conflicts', replication.conflicts === 0 ? '0' : `${countOf(replication.conflicts, 'version')} in history lost to a write that had not seen them (murmurctl get --conflicts <key>)`])
  }
  if (replication.changes !== undefined) {
    const { cursor, floor } = replication.changes
    rows.push(['changes', `cursor ${cursor} (murmurctl watch --since <cursor> replays from ${floor} on; older gets a snapshot)`])
  }
  if (waiting > 0) rows.push(['waiting', `${countOf(waiting, 'op')} (${formatBytes(waitingBytes)}) for an earlier op of their origin or for the clock`])
  return rows
}

function formatCounters ({ counters }: NodeStatus): string {
  const throttled = (counters.throttledMessages ?? 0) > 0 ? `, ${counters.throttledMessages} throttled` : ''
  const messages = counters.rejectedMessages !== undefined ? `, ${counters.rejectedMessages} gossip messages rejected${throttled}` : ''
  return `${counters.repaired} repaired, ${counters.gossiped} gossiped, ${counters.rejected} refused${messages}, ${counters.held} held, ${counters.collected} tombstones collected`
}

/** `open: any peer may connect`, or what closes the group. */
function accessRow ({ swarmKey, allowList }: AccessStatus): [string, string] {
  if (!swarmKey && allowList == null) return ['access', 'open: any peer may connect']
  const key = swarmKey ? 'swarm key' : 'no swarm key'
  const list = allowList != null ? `allow-list of ${countOf(allowList, 'peer')} (this node included)` : 'no allow-list'
  return ['access', `closed: ${key}, ${list}`]
}

const REACHABILITY = {
  public: 'public (an address of its own that other networks can dial)',
  private: 'private (behind NAT or on a private network: other networks reach it through a relay)',
  unknown: 'unknown (a public address no member has dialled back yet, or none of its own)'
}

function reachRow ({ reachability, relays, relayServer }: ReachStatus): [string, string] {
  const lines = [REACHABILITY[reachability] ?? reachability]
  for (const relay of relays) lines.push(`reserved on relay ${relay}`)
  if (relayServer != null) lines.push(`serving as a relay: ${countOf(relayServer.reservations, 'reservation')}`)
  return ['reach', lines.join('\n')]
}

function formatClock ({ clock }: NodeStatus): string {
  const bound = `max skew ${clock.maxSkewMs} ms`
  return clock.warning == null ? bound : `${bound}\nWARNING: ${clock.warning}`
}

/** `bob 12D3… connected, last sync <time> (n ops), 0 behind, clock +3 ms` */
function formatPeerSync (peer: PeerSyncStatus): string {
  const parts = [peer.connected ? 'connected' : 'disconnected']
  parts.push(peer.lastSync == null ? 'never synced' : `last sync ${peer.lastSync} (${peer.lastSyncOps ?? 0} ops)`)
  if (peer.behind != null) parts.push(`${peer.behind} behind`)
  if (peer.clockOffsetMs != null) parts.push(`clock ${peer.clockOffsetMs >= 0 ? '+' : ''}${peer.clockOffsetMs} ms`)
  if (peer.lastError != null) parts.push(`last error: ${peer.lastError}`)
  return `${peer.name != null ? displayText(peer.name) : '-'} ${peer.id} ${parts.join(', ')}`
}
