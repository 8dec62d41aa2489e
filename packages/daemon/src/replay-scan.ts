/**
 * The current state of a watch's prefixes, read a page at a time in key order
 * while writes go on between pages. Each page remembers the latest change
 * cursor when it was read, so a live change can be judged exactly: a change
 * to a key not read yet is left out (the scan reads the key as it then is),
 * one to a key already read is told only when it came after the page that
 * read it (an own write is told after its fsync, so its event can come after
 * the page that showed its row).
 */
import { MAX_PAGE_VALUE_BYTES, entryOf, readPage, type Entry } from './entry.js'
import type { Replica } from '@murmur/core'

/** Keys read up to here when the change cursor was `latest`: every key of ranges before `range`, and of `range` those up to `key` (none when absent). */
interface Mark { range: number, key?: string, latest: number }

export class SnapshotScan {
  /** The prefixes with those under another left out, in key order: ranges that do not overlap, read one after the other. */
  private readonly ranges: string[]
  private range = 0
  /** The last key read in the current range. */
  private after?: string
  private readonly marks: Mark[] = []

  constructor (private readonly replica: Replica, prefixes: string[], private readonly pageSize: number, readonly from: number) {
    const sorted = (prefixes.length === 0 ? [''] : [...new Set(prefixes)]).sort(byteOrder)
    this.ranges = sorted.filter((prefix, i) => !sorted.slice(0, i).some(other => prefix.startsWith(other)))
  }

  /** The next page, at most `pageSize` entries and `MAX_PAGE_VALUE_BYTES` of values (or one entry); `last` once every range is read. `latest`: the change cursor now. */
  next (latest: number): { entries: Entry[], last: boolean } {
    const entries: Entry[] = []
    let bytes = 0
    while (this.range < this.ranges.length) {
      const page = readPage(this.replica, this.ranges[this.range], this.after, this.pageSize - entries.length, MAX_PAGE_VALUE_BYTES - bytes, entries.length === 0)
      for (const op of page.ops) entries.push(entryOf(op))
      bytes += page.bytes
      if (page.more) {
        if (page.ops.length > 0) this.after = page.ops[page.ops.length - 1]?.key
        this.marks.push({ range: this.range, key: this.after, latest })
        return { entries, last: false }
      }
      this.range++
      this.after = undefined
    }
    this.marks.push({ range: this.range, latest })
    return { entries, last: true }
  }

  /** Whether a live change (of a key under the prefixes) is told: it came after the page that read its key. */
  tells (key: string, cursor: number): boolean {
    if (cursor <= this.from) return false
    const range = this.ranges.findIndex(prefix => key.startsWith(prefix))
    const covers = (mark: Mark): boolean => range < mark.range || (range === mark.range && mark.key !== undefined && byteOrder(key, mark.key) <= 0)
    // marks only move forward: the first that covers the key is the page that read it
    let low = 0
    let high = this.marks.length
    while (low < high) {
      const mid = (low + high) >> 1
      if (covers(this.marks[mid] as Mark)) high = mid
      else low = mid + 1
    }
    const mark = this.marks[low]
    return mark !== undefined && cursor > mark.latest
  }
}

/** Keys in the store's order: SQLite compares text keys byte by byte (UTF-8), not as JavaScript does (UTF-16). */
function byteOrder (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}
