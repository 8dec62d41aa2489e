import type { AccessStatus, NodeStatus, PeerSyncStatus } from '@murmur/protocol'
import { formatDuration, labelled } from './format.js'

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
    ['ops', formatCounters(status)],
    ['clock', formatClock(status)],
    ...(status.access != null ? [accessRow(status.access)] : []),
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

/** One `origin seq` line per writer this node has seen, its own marked. */
function formatVersionVector ({ versionVector, id }: NodeStatus): string {
  const lines = Object.entries(versionVector)
    .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    .map(([origin, seq]) => `${origin} ${seq}${origin === id ? ' (this node)' : ''}`)
  return lines.join('\n') || '(empty)'
}

function formatCounters ({ counters }: NodeStatus): string {
  return `${counters.repaired} repaired, ${counters.gossiped} gossiped, ${counters.rejected} rejected, ${counters.held} held, ${counters.collected} tombstones collected`
}

/** `open: any peer may connect`, or what closes the group. */
function accessRow ({ swarmKey, allowList }: AccessStatus): [string, string] {
  if (!swarmKey && allowList == null) return ['access', 'open: any peer may connect']
  const key = swarmKey ? 'swarm key' : 'no swarm key'
  const list = allowList != null ? `allow-list of ${allowList} peer${allowList === 1 ? '' : 's'} (this node included)` : 'no allow-list'
  return ['access', `closed: ${key}, ${list}`]
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
  return `${peer.name ?? '-'} ${peer.id} ${parts.join(', ')}`
}
