import type { NodeStatus } from '@murmur/protocol'
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
