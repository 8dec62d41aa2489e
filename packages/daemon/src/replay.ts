/**
 * What a watch that resumes from a cursor is told before it goes live: each
 * key under its prefixes changed after the cursor, once, in its latest state
 * and in cursor order; or, when changes it needs are gone (collected, or the
 * cursor is not one this node gave), the current state of its prefixes.
 * Conflicts found after the cursor (whose losing version history still
 * holds) are replayed too, each at its own cursor.
 * Read in one go, synchronously, so no change can fall between it and the
 * live events that follow (those numbered up to `cursor` are then skipped).
 */
import { DEFAULT_LIST_LIMIT } from '@murmur/protocol'
import { changeEventOf, conflictEventOf, entryOf, type ChangeEvent, type Entry } from './entry.js'
import type { Replica, SqliteStore } from '@murmur/core'

export interface Replay {
  /** The latest cursor the replay covers. */
  cursor: number
  /** Changes after the cursor asked for. */
  changes: ChangeEvent[]
  /** Instead of changes: every entry under the prefixes, in key order. */
  snapshot?: Entry[]
}

/** `since` undefined: nothing to replay, only the current cursor. Prefixes: none is every key. */
export function replay (store: SqliteStore, replica: Replica, since: number | undefined, prefixes: string[]): Replay {
  const { latest, floor } = store.changeMarks()
  if (since === undefined) return { cursor: latest, changes: [] }
  const wanted = (key: string): boolean => prefixes.length === 0 || prefixes.some(prefix => key.startsWith(prefix))
  if (since < floor || since > latest) return { cursor: latest, changes: [], snapshot: snapshotOf(replica, prefixes) }
  const changes: ChangeEvent[] = []
  for (let after = since; ;) {
    const page = store.changes(after, DEFAULT_LIST_LIMIT)
    for (const { cursor, op } of page) if (wanted(op.key)) changes.push(changeEventOf(op, 'replay', cursor, replica.sweptExpiry(op)))
    if (page.length < DEFAULT_LIST_LIMIT) break
    after = page[page.length - 1]?.cursor ?? latest
  }
  // conflicts found after the cursor whose losing version is still in history, merged in cursor order
  const conflicts: ChangeEvent[] = []
  for (let after = since; ;) {
    const page = store.past.conflictsAfter(after, DEFAULT_LIST_LIMIT)
    for (const past of page) if (wanted(past.op.key)) conflicts.push(conflictEventOf(past, 'replay'))
    if (page.length < DEFAULT_LIST_LIMIT) break
    after = page[page.length - 1]?.conflict ?? latest
  }
  return { cursor: latest, changes: conflicts.length === 0 ? changes : [...changes, ...conflicts].sort((a, b) => (a.cursor ?? 0) - (b.cursor ?? 0)) }
}

/** Every live entry under the prefixes (overlapping prefixes give a key once), in key order. */
function snapshotOf (replica: Replica, prefixes: string[]): Entry[] {
  const entries = new Map<string, Entry>()
  for (const prefix of prefixes.length === 0 ? [''] : prefixes) {
    for (const op of replica.list({ prefix })) entries.set(op.key, entryOf(op))
  }
  return [...entries.values()].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)))
}
