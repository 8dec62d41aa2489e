/**
 * What a watch that resumes from a cursor is told before it goes live: each
 * key under its prefixes changed after the cursor, once, in its latest state
 * and in cursor order; or, when changes it needs are gone (collected, or the
 * cursor is not one this node gave), the current state of its prefixes.
 * Conflicts found after the cursor (whose losing version history still
 * holds) are replayed too, each at its own cursor.
 *
 * Read a page at a time (`ReplayReader`), so a replay of a large database
 * is never held whole and the event loop turns between pages while writes
 * go on. The handover to live events stays exact (`tells`): while changes
 * are replayed every live event is left out, as its row is in the store
 * already and the replay reads it (it reads on past the changes made since
 * it began, until a page finds nothing more); once it has, only changes
 * above the cursor it reached are told. Should the changes it still needs be
 * collected meanwhile, it goes on with the current state (`replay-scan.ts`), which a client takes in place of what it holds.
 */
import { SNAPSHOT_PAGE } from '@murmur/protocol'
import { changeEventOf, conflictEventOf, type ChangeEvent, type Entry } from './entry.js'
import { SnapshotScan } from './replay-scan.js'
import type { Replica, SqliteStore } from '@murmur/core'

export interface Replay {
  /** The latest cursor the replay covers. */
  cursor: number
  /** Changes after the cursor asked for. */
  changes: ChangeEvent[]
  /** Instead of changes: every entry under the prefixes, in key order. */
  snapshot?: Entry[]
}

/** One page of a replay: changes in cursor order, or entries of the current state (`last` on the final page). */
export type ReplayPage = { changes: ChangeEvent[] } | { snapshot: Entry[], last: boolean }

export class ReplayReader {
  /** Where the replay stands: once `done`, the cursor to give with `ready` (for a snapshot, the cursor it began at). */
  cursor: number
  done = false
  /** Every change up to here has been read. */
  private position: number
  private scan?: SnapshotScan
  private readonly wanted: (key: string) => boolean

  /**
   * `since` undefined: nothing to replay, only the current cursor. Prefixes: none is every key.
   * `pageSize`: the changes a page reads (and as many conflicts), or the entries of a snapshot page.
   */
  constructor (private readonly store: SqliteStore, private readonly replica: Replica, since: number | undefined, private readonly prefixes: string[], private readonly pageSize = SNAPSHOT_PAGE) {
    const { latest, floor } = store.changeMarks()
    this.cursor = latest
    this.position = since ?? latest
    this.wanted = key => prefixes.length === 0 || prefixes.some(prefix => key.startsWith(prefix))
    if (since === undefined) this.done = true
    else if (since < floor || since > latest) this.startScan(latest)
  }

  /** The next page, or undefined once done. */
  next (): ReplayPage | undefined {
    if (this.done) return undefined
    const { latest, floor } = this.store.changeMarks()
    // changes not read yet were collected since the last page: the current state instead
    if (this.scan === undefined && floor > this.position) this.startScan(latest)
    if (this.scan !== undefined) {
      const { entries, last } = this.scan.next(latest)
      this.done = last
      return { snapshot: entries, last }
    }
    return { changes: this.changesPage(latest) }
  }

  /** Whether a live change (of a key under the prefixes) is told, behind the replay: neither read by it nor to be. */
  tells (event: ChangeEvent): boolean {
    const cursor = event.cursor ?? Infinity
    if (this.scan !== undefined) return this.scan.tells(event.key, cursor)
    return this.done && cursor > this.cursor
  }

  private startScan (latest: number): void {
    this.scan = new SnapshotScan(this.replica, this.prefixes, this.pageSize, latest)
    this.cursor = latest
  }

  /** Rows and conflicts after `position`, merged in cursor order up to where both pages are whole. */
  private changesPage (latest: number): ChangeEvent[] {
    const rows = this.store.changes(this.position, this.pageSize)
    const conflicts = this.store.past.conflictsAfter(this.position, this.pageSize)
    let upTo = Infinity
    if (rows.length === this.pageSize) upTo = rows[rows.length - 1]?.cursor ?? upTo
    if (conflicts.length === this.pageSize) upTo = Math.min(upTo, conflicts[conflicts.length - 1]?.conflict ?? upTo)
    const events: ChangeEvent[] = []
    for (const { cursor, op } of rows) if (cursor <= upTo && this.wanted(op.key)) events.push(changeEventOf(op, 'replay', cursor, this.replica.sweptExpiry(op)))
    for (const past of conflicts) if ((past.conflict ?? 0) <= upTo && this.wanted(past.op.key)) events.push(conflictEventOf(past, 'replay'))
    if (upTo === Infinity) {
      // nothing after these: the replay has caught up, and live events above `latest` follow it
      this.done = true
      this.cursor = latest
    } else {
      this.position = upTo
    }
    return conflicts.length === 0 ? events : events.sort((a, b) => (a.cursor ?? 0) - (b.cursor ?? 0))
  }
}

/** A whole replay at once, for the library's `changesSince` (its caller holds it all anyway). */
export function replay (store: SqliteStore, replica: Replica, since: number | undefined, prefixes: string[]): Replay {
  const reader = new ReplayReader(store, replica, since, prefixes)
  const changes: ChangeEvent[] = []
  let snapshot: Entry[] | undefined
  for (let page = reader.next(); page !== undefined; page = reader.next()) {
    if ('changes' in page) changes.push(...page.changes)
    else (snapshot ??= []).push(...page.snapshot)
  }
  return { cursor: reader.cursor, changes, ...(snapshot !== undefined ? { snapshot } : {}) }
}
