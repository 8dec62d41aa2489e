/**
 * A key's history as the library API and the RPC hand it out: the current
 * version, then the past versions the replica keeps (newest first), each
 * with who wrote it and when, what its writer had seen, and whether it lost
 * to a write that had not seen it (see @murmur/core's `replica/conflicts.ts`).
 * And a revert: an old version written again as a new write.
 */
import { rpcError } from '@murmur/protocol'
import { seenKind, type Op, type PastVersion, type Replica, type Seen, type ValueType, type Version } from '@murmur/core'
import { versionOf } from './conditions.js'
import { checkLimit } from './entry.js'
import type { Write, WriteOutcome, Writes } from './writes.js'

export interface HistoryVersion {
  key: string
  /** Absent for a delete. */
  value?: Uint8Array
  type: ValueType
  deleted: boolean
  version: Version
  /** The writer's name, when this node knows it. */
  originName?: string
  /** The version its writer held when it wrote; 'nothing' when it held none; absent for a write from a node before history. */
  seen?: Seen | 'nothing'
  /** The key's current version. */
  current: boolean
  /** It lost to a write that had not seen it: at this change cursor. */
  conflictCursor?: number
}

/** `Murmur.history`: the key's versions, or (`conflicts`) only its past versions that are conflicts. */
export function readHistory (replica: Replica, key: string, options: { limit?: number, conflicts?: boolean }, nameOf: (peer: string) => string | undefined): HistoryVersion[] {
  return options.conflicts === true ? conflictsOf(replica, key, nameOf) : historyOf(replica, key, checkLimit(options.limit) ?? Number.MAX_SAFE_INTEGER, nameOf)
}

/**
 * `Murmur.revert`: writes the version again; a delete of a key already deleted writes nothing and gives the
 * delete it is at: its row, or with none (collected) its newest past version, which `revertWrite` found one in.
 */
export async function revertKey (writes: Writes, replica: Replica, key: string, version: { origin: string, seq: number }): Promise<Version> {
  const [outcome] = await writes.writeMany([revertWrite(replica, key, version)])
  if (outcome?.status === 'rejected') throw outcome.reason
  const value = outcome?.value as WriteOutcome
  return 'deleted' in value ? value.version ?? versionOf(replica.store.row(key) ?? (replica.history(key, 1)[0] as PastVersion).op) : value
}

/** The key's versions held here, newest first: its row, then its past versions; at most `limit`. */
export function historyOf (replica: Replica, key: string, limit: number, nameOf: (peer: string) => string | undefined): HistoryVersion[] {
  const row = replica.store.row(key)
  const past = replica.history(key, row === undefined ? limit : limit - 1)
  const versions = row === undefined ? [] : [versionEntry(row, true, nameOf)]
  for (const entry of past) versions.push(versionEntry(entry.op, false, nameOf, entry))
  return versions.slice(0, limit)
}

/** The past versions of `key` that are conflicts, newest first. */
export function conflictsOf (replica: Replica, key: string, nameOf: (peer: string) => string | undefined): HistoryVersion[] {
  return replica.history(key).filter(entry => entry.conflict !== undefined).map(entry => versionEntry(entry.op, false, nameOf, entry))
}

/** The write that brings back `key`'s version `wanted` (its value and type, or a delete); throws VersionNotFound when this node holds no such version. */
export function revertWrite (replica: Replica, key: string, wanted: { origin: string, seq: number }): Write {
  const row = replica.store.row(key)
  const candidates: Op[] = [...(row !== undefined ? [row] : []), ...replica.history(key).map(entry => entry.op)]
  const found = candidates.find(op => op.origin === wanted.origin && op.seq === wanted.seq)
  if (found === undefined) {
    throw rpcError('VersionNotFound', `${JSON.stringify(key)} has no version ${wanted.origin}/${wanted.seq} on this node (murmurctl history ${shellWord(key)} lists those it holds)`, { key, version: wanted })
  }
  return found.value === null ? { key, value: null } : { key, value: found.value, type: found.type ?? 'text' }
}

function versionEntry (op: Op, current: boolean, nameOf: (peer: string) => string | undefined, past?: PastVersion): HistoryVersion {
  const name = nameOf(op.origin)
  const seen = seenKind(op)
  return {
    key: op.key,
    ...(op.value !== null ? { value: op.value } : {}),
    type: op.type ?? 'text',
    deleted: op.value === null,
    version: versionOf(op),
    ...(name !== undefined ? { originName: name } : {}),
    ...(seen !== undefined ? { seen } : {}),
    current,
    ...(past?.conflict !== undefined ? { conflictCursor: past.conflict } : {})
  }
}

/** `key` as the shell would take it for one argument of murmurctl (a hint must work when pasted); `<key>` when no one-line word holds it. */
function shellWord (key: string): string {
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(key)) return '<key>'
  const word = /^[\w./:@%+=,-]+$/.test(key) ? key : `'${key.replaceAll("'", "'\\''")}'`
  return key.startsWith('-') ? `-- ${word}` : word
}
