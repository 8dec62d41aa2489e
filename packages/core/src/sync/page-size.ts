/**
 * How many ops a serve reads from the store at a time. A page stays in
 * memory while its frames wait for the puller, so it is bounded in bytes as
 * well as in ops: 512 ops of 512 KiB values were 256 MiB held by one serve
 * (and by each of a member's paused pulls). The first page is as many ops as
 * fit `pageBytes` were each the largest a value may be (1 op for the default
 * 2 MiB); each next one as many as fit at the last page's bytes an op. The
 * store stops a page once it holds `pageBytes` (small ops, then large ones:
 * `Store.opsOf`'s `maxBytes`), on a whole seq (an origin that signed two
 * versions of one seq has them served together), and reads no further, so
 * what a serve reads and holds while its puller is slow is `pageBytes` and
 * an op, whatever the store holds.
 */
import { payloadSize } from './chunk.js'
import type { HeldOp, Store } from '../types.js'

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

  /**
   * `origin`'s next page above `after` in `store`, and whether more may
   * follow (`full`); sets the next limit. A page the store ended at
   * `pageBytes` looks like the origin's last, so with a byte bound only an
   * empty page ends an origin (one more read of the store).
   */
  read (store: Store, origin: string, after: number): { page: HeldOp[], full: boolean } {
    const asked = this.limit
    const page = store.opsOf(origin, after, asked, this.pageBytes)
    const bytes = page.reduce((sum, op) => sum + payloadSize(op), 0)
    if (page.length > 0) this.limit = Math.max(1, Math.min(this.pageOps, Math.floor(this.pageBytes * page.length / bytes)))
    return { page, full: page.length >= asked || (page.length > 0 && Number.isFinite(this.pageBytes)) }
  }
}
