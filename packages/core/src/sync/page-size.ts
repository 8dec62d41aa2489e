/**
 * How many ops a serve reads from the store at a time, and what of a page it
 * keeps. A page stays in memory while its frames wait for the puller, so it
 * is bounded in bytes as well as in ops: 512 ops of 512 KiB values were
 * 256 MiB held by one serve (and by each of a member's paused pulls). The
 * first page is as many ops as fit `pageBytes` were each the largest a value
 * may be (1 op for the default 2 MiB); each next one as many as fit at the
 * last page's bytes an op. A page that still comes larger (small ops, then
 * large ones) is cut after `pageBytes`, on a whole seq (an origin that
 * signed two versions of one seq has them served together); the rest is
 * read again with the next page, so what a serve holds while its puller is
 * slow is `pageBytes` and an op, whatever was read.
 */
import { payloadSize } from './chunk.js'
import type { Op } from '../types.js'

/** The largest op a page is reckoned for before any is read: a value of 1 MiB (the codec's default bound), with room for its key and proof. */
const LARGEST_OP_BYTES = 1024 * 1024 + 64 * 1024

export class PageSize {
  /** Ops to ask the store for next. */
  limit: number
  private readonly pageOps: number
  private readonly pageBytes: number

  constructor (pageOps: number, pageBytes: number) {
    this.pageOps = pageOps
    this.pageBytes = pageBytes
    // as many of the largest ops as fit; a serve with no byte bound (the simulator's) pages by count alone
    this.limit = Math.max(1, Math.min(pageOps, Math.floor(pageBytes / LARGEST_OP_BYTES)))
  }

  /** What to keep of `page` (read with `limit`): all of it, or what fits `pageBytes` up to a whole seq; sets the next limit. */
  keep<T extends Op> (page: T[]): T[] {
    let bytes = 0
    let cut = 0
    while (cut < page.length && (cut === 0 || bytes + payloadSize(page[cut] as T) <= this.pageBytes)) bytes += payloadSize(page[cut++] as T)
    while (cut < page.length && page[cut]?.seq === page[cut - 1]?.seq) bytes += payloadSize(page[cut++] as T)
    if (cut > 0) this.limit = Math.max(1, Math.min(this.pageOps, Math.floor(this.pageBytes * cut / bytes)))
    return cut < page.length ? page.slice(0, cut) : page
  }
}
