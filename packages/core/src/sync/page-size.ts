/**
 * How many ops a serve reads from the store at a time. A page stays in
 * memory while its frames wait for the puller, so it is bounded in bytes as
 * well as in ops: 512 ops of 512 KiB values were 256 MiB held by one serve
 * (and by each of a member's paused pulls). The first page is a few ops;
 * each next one as many as fit `pageBytes` at the last page's bytes an op.
 * A page still ends on a whole signed batch (the store's `completePage`).
 */
import { payloadSize } from './chunk.js'
import type { Op } from '../types.js'

/** Ops in a serve's first page, before their size is known. */
export const FIRST_PAGE_OPS = 4

export class PageSize {
  /** Ops to ask the store for next. */
  limit: number
  private readonly pageOps: number
  private readonly pageBytes: number

  constructor (pageOps: number, pageBytes: number) {
    this.pageOps = pageOps
    this.pageBytes = pageBytes
    this.limit = Math.min(pageOps, FIRST_PAGE_OPS)
  }

  /** `page` was read with `limit`: the next limit fits `pageBytes` at its bytes an op. */
  took (page: Op[]): void {
    if (page.length === 0) return
    const bytes = page.reduce((sum, op) => sum + payloadSize(op), 0)
    this.limit = Math.max(1, Math.min(this.pageOps, Math.floor(this.pageBytes * page.length / bytes)))
  }
}
