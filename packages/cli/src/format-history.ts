/** Human-readable history and conflicts: one version a line, newest first. */
import type { Entry, HistoryEntry } from '@murmur/protocol/client'
import { displayText, displayValue, versionId } from './format.js'

/** A table: VERSION, WHEN, WHO, TYPE, VALUE, then the current and conflict marks. */
export function formatHistory (key: string, versions: HistoryEntry[]): string {
  if (versions.length === 0) return `${displayText(key)}: no versions held on this node`
  const rows = versions.map(v => [
    versionId(v.version),
    new Date(v.version.wall).toISOString(),
    v.originName != null ? displayText(v.originName) : '-',
    v.deleted ? '-' : v.type ?? 'text',
    v.deleted ? '(deleted)' : displayValue(v),
    [v.current ? 'current' : '', v.conflict ? 'CONFLICT: lost to a write that had not seen it' : '', seenText(v)].filter(s => s !== '').join('; ')
  ])
  const header = ['VERSION', 'WHEN', 'WHO', 'TYPE', 'VALUE', 'NOTES']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] as string).length)))
  return [header, ...rows].map(r => r.map((cell, i) => i === r.length - 1 ? cell : cell.padEnd(widths[i] as number)).join('  ').trimEnd()).join('\n')
}

/** `get --conflicts`: the current value, then each losing version still in history. */
export function formatConflicts (entry: Entry, conflicts: HistoryEntry[]): string {
  return conflictLines(`${displayText(entry.key)} = ${displayValue(entry)}  (current, ${versionId(entry.version)})`, conflicts)
}

/** `get --conflicts` on a key with no value now: its newest version in history (a delete, or a value that expired), then the losing ones. */
export function formatConflictsWithoutValue (key: string, newest: HistoryEntry, conflicts: HistoryEntry[]): string {
  const what = newest.deleted ? '(deleted)' : `(expired) = ${displayValue(newest)}`
  return conflictLines(`${displayText(key)} ${what}  (${newest.current ? 'current, ' : ''}${versionId(newest.version)})`, conflicts)
}

function conflictLines (head: string, conflicts: HistoryEntry[]): string {
  const lines = [head]
  if (conflicts.length === 0) lines.push('no conflicts in history')
  for (const c of conflicts) {
    const who = c.originName !== undefined ? `${displayText(c.originName)} (${c.version.origin})` : c.version.origin
    lines.push(`conflict: ${c.deleted ? '(deleted)' : displayValue(c)}  by ${who} at ${new Date(c.version.wall).toISOString()}  (${versionId(c.version)})`)
  }
  return lines.join('\n')
}

function seenText (v: HistoryEntry): string {
  if (v.seen === undefined) return ''
  if (v.seen === 'nothing') return 'writer had seen no version'
  return `writer had seen ${v.seen.origin}@${v.seen.wall}.${v.seen.logical}`
}
