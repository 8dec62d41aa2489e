/**
 * A token bucket per peer: `perSecond` sustained, `burst` at once.
 *
 * Memory stays bounded without handing anyone a fresh burst: buckets are kept
 * in the order they were last used, and one unused for as long as it takes to
 * refill is full, the same as a new one, so it is forgotten (a peer that
 * disconnected is gone within that time; one that reconnects gets no more
 * than it would have). Forgetting a peer when its connection closes instead
 * would let it refill its bucket by reconnecting. Should more than `most`
 * peers all be using theirs (gossip comes only from connected peers, and
 * murmurd keeps at most 256 connections, so only identities cycled faster
 * than that), the newcomers share one bucket, and no kept bucket is touched.
 */
export class RateLimiter {
  private readonly perSecond: number
  private readonly burst: number
  private readonly most: number
  /** Least recently used first. */
  private readonly buckets = new Map<string, Bucket>()
  private readonly overflow: Bucket

  constructor (perSecond: number, burst: number, most = 10_000) {
    this.perSecond = perSecond
    this.burst = burst
    this.most = most
    this.overflow = { tokens: burst, at: Date.now() }
  }

  /** How many peers' buckets are kept. */
  get tracked (): number {
    return this.buckets.size
  }

  take (peer: string): boolean {
    const now = Date.now()
    const bucket = this.bucketOf(peer, now)
    this.refill(bucket, now)
    if (bucket.tokens < 1) return false
    bucket.tokens--
    return true
  }

  /** Whether `peer` has less than one token now: what `take` would refuse, without taking one. */
  owes (peer: string): boolean {
    const bucket = this.buckets.get(peer)
    return bucket !== undefined && this.tokensAt(bucket, Date.now()) < 1
  }

  /** Whether `peer` has `cost` tokens now (without taking them). */
  has (peer: string, cost: number): boolean {
    const bucket = this.buckets.get(peer) ?? (this.buckets.size < this.most ? undefined : this.overflow)
    return (bucket === undefined ? this.burst : this.tokensAt(bucket, Date.now())) >= cost
  }

  /**
   * Takes `cost` more from `peer`'s bucket, into debt if need be, at most
   * `maxDebt` (a burst's worth unless said): it waits until it is paid.
   */
  charge (peer: string, cost: number, maxDebt = this.burst): void {
    const now = Date.now()
    const bucket = this.bucketOf(peer, now)
    this.refill(bucket, now)
    bucket.tokens = Math.max(-maxDebt, bucket.tokens - cost)
  }

  /** `peer`'s bucket (a new one full), moved to the most recently used end; the shared one when too many are kept. */
  private bucketOf (peer: string, now: number): Bucket {
    this.forgetFull(now)
    let bucket = this.buckets.get(peer)
    if (bucket !== undefined) this.buckets.delete(peer)
    else if (this.buckets.size < this.most) bucket = { tokens: this.burst, at: now }
    if (bucket === undefined) return this.overflow
    this.buckets.set(peer, bucket)
    return bucket
  }

  private tokensAt (bucket: Bucket, now: number): number {
    return Math.min(this.burst, bucket.tokens + Math.max(0, now - bucket.at) * this.perSecond / 1000)
  }

  private refill (bucket: Bucket, now: number): void {
    bucket.tokens = this.tokensAt(bucket, now)
    bucket.at = now
  }

  private forgetFull (now: number): void {
    const refillMs = this.burst * 1000 / this.perSecond
    for (const [peer, bucket] of this.buckets) {
      if (now - bucket.at < refillMs) return
      // one in debt (`charge`) takes longer to be full again: kept until it is
      if (this.tokensAt(bucket, now) < this.burst) continue
      this.buckets.delete(peer)
    }
  }
}

interface Bucket { tokens: number, at: number }
