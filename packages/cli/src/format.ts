/**
 * Human-readable output. `--json` bypasses all of it and prints what the
 * daemon returned.
 */
import { typeOfEntry, valueText, type ChangeEvent, type Entry, type PeerInfo, type Version, type WireValueType } from '@murmur/protocol/client'

// Line breaks (NEL and U+2028/9 too) and other control characters (C1 too) would break one-line-per-entry output.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/
// JSON.stringify escapes only C0 controls, so the others it would leave raw are escaped here.
const UNESCAPED = /[\u007f-\u009f\u2028\u2029]/g

/** Text on one line: as is, or as a JSON string literal when it holds control characters. */
export function displayText (text: string): string {
  if (!CONTROL.test(text)) return text
  return JSON.stringify(text).replace(UNESCAPED, c => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** A wire value for display: binary values as `base64:<...>`, json as compact JSON. */
export function displayValue (entry: { value?: unknown, encoding?: 'base64', type?: WireValueType }): string {
  if (entry.value === undefined) return ''
  return entry.encoding === 'base64' ? `base64:${String(entry.value)}` : displayText(valueText(entry))
}

/** How `--if-version` names a version: `<origin>/<seq>`. */
export function versionId ({ origin, seq }: Pick<Version, 'origin' | 'seq'>): string {
  return `${origin}/${seq}`
}

export function formatVersion ({ wall, logical, origin, seq }: Version): string {
  return `version ${wall}.${logical} origin ${origin} seq ${seq}`
}

export function formatEntryLine (entry: Entry): string {
  return `${displayText(entry.key)} = ${displayValue(entry)}`
}

export function formatEntryMeta (entry: Entry): string {
  const { wall, logical, origin, seq } = entry.version
  return labelled([
    ['key', displayText(entry.key)],
    ['value', displayValue(entry)],
    ['type', typeOfEntry(entry)],
    ['version', versionId(entry.version)],
    ['wall', `${new Date(wall).toISOString()} (${wall} ms)`],
    ['logical', String(logical)],
    ['origin', origin],
    ['seq', String(seq)],
    ...(entry.expires !== undefined ? [['expires', `${new Date(entry.expires).toISOString()} (${entry.expires} ms)`] as [string, string]] : [])
  ])
}

export function formatChange (event: ChangeEvent): string {
  const key = displayText(event.key)
  if (event.type === 'expire') return `expire ${key}`
  if (event.type === 'conflict') {
    const lost = event.deleted === true ? '(deleted)' : displayValue({ ...event, type: event.valueType })
    return `conflict ${key}: ${lost} by ${event.version.origin} at ${new Date(event.version.wall).toISOString()} lost to a write that had not seen it`
  }
  return event.type === 'put' ? `put ${key} = ${displayValue({ ...event, type: event.valueType })}` : `del ${key}`
}

export function formatPeer ({ id, name, member, gossip, mesh, via, connection, relay, addrs }: PeerInfo): string {
  const path = connection === 'relayed' ? `relayed${relay != null ? `:${relay}` : ''}` : connection ?? '-'
  const membership = member ? (gossip === false ? 'member,no-gossip' : mesh === false ? 'member,no-mesh' : 'member') : 'non-member'
  return [id, name != null ? displayText(name) : '-', membership, via ?? '-', path, addrs.join(',') || '-'].join('  ')
}

/** `label:` columns aligned; a value with several lines is indented under the first. */
export function labelled (rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([label]) => label.length)) + 2
  const indent = ' '.repeat(width)
  return rows.map(([label, value]) => `${label}:`.padEnd(width) + value.replaceAll('\n', '\n' + indent)).join('\n')
}

export function formatDuration (ms: number): string {
  const seconds = Math.floor(ms / 1000)
  const parts: Array<[number, string]> = [
    [Math.floor(seconds / 86400), 'd'],
    [Math.floor(seconds / 3600) % 24, 'h'],
    [Math.floor(seconds / 60) % 60, 'm'],
    [seconds % 60, 's']
  ]
  const first = parts.findIndex(([n]) => n > 0)
  return first === -1 ? '0s' : parts.slice(first).map(([n, unit]) => `${n}${unit}`).join(' ')
}

/** `1 op`, `3 ops`. */
export function countOf (n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

/** `512 B`, `1.5 KiB`, `3.0 MiB`. */
export function formatBytes (bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB']
  let value = bytes
  let unit = -1
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === -1 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}
