/**
 * The replicated map's data model.
 *
 * Every key is a last-writer-wins register. A write is an `Op`; the op with the
 * highest `(wall, logical, origin)` for a key wins everywhere, so replicas that
 * have seen the same set of ops hold the same state whatever order the ops
 * arrived in. A delete is an op whose `value` is null (a tombstone).
 */

/** A hybrid logical clock reading. */
export interface Stamp {
  /** Milliseconds since the epoch (physical part). */
  wall: number
  /** Counter that orders events within one millisecond (logical part). */
  logical: number
}

/** Where a value came from: its HLC stamp, the writing node, and that node's sequence number. */
export interface Version extends Stamp {
  /** The origin node's ID (its libp2p peer ID string). Breaks ties between equal stamps. */
  origin: string
  /** Per-origin sequence number, starting at 1 and increasing by 1 with each op the origin writes. */
  seq: number
}

/** One write. `value === null` is a delete (tombstone). */
export interface Op extends Version {
  key: string
  value: Uint8Array | null
  /**
   * The origin's signature over the batch this op was written in (see
   * `proof.ts`), so the op can be relayed by anyone and still be checked.
   * Ops read with `get` and `list` carry none; `missing` returns them with it.
   */
  proof?: OpProof
}

/**
 * One signature over a batch of an origin's ops with consecutive seqs: it
 * signs `proofPayload(origin, first, digests)` behind the signer's domain.
 */
export interface OpProof {
  sig: Uint8Array
  /** The batch's first seq: the op with seq `s` has digest entry `s - first`. */
  first: number
  /** `opDigest` of every op of the batch in seq order, 32 bytes each. */
  digests: Uint8Array
}

/** A change a caller asks for: a put (bytes) or a delete (null). */
export interface Change {
  key: string
  value: Uint8Array | null
}

/**
 * Origin → the highest sequence number `n` such that this replica holds the
 * effect of every op of that origin with `seq <= n` (contiguous knowledge).
 */
export type VersionVector = Record<string, number>

export interface ListOptions {
  /** Only keys that start with this string. */
  prefix?: string
  /** Only keys that sort strictly after this one (a cursor for paging). */
  after?: string
  /** At most this many entries. */
  limit?: number
}

export interface MissingOptions {
  /** At most this many ops per call. */
  limit: number
  /** Resume after this position (returned as `next` by the previous call). */
  cursor?: MissingCursor
}

/** Where a `missing()` scan stopped: the origin and seq of the last op returned. */
export interface MissingCursor {
  origin: string
  seq: number
}

export interface MissingPage {
  ops: Op[]
  /** Present when there may be more ops to send. */
  next?: MissingCursor
}

export interface CollectOptions {
  /** Per origin, the highest seq every known peer holds. */
  stable: VersionVector
  /** Wall-clock ms: stable tombstones stamped before this go. */
  stableBefore: number
  /** Wall-clock ms: every tombstone stamped before this goes (the maximum retention). */
  anyBefore: number
}

export interface StoreCounts {
  /** Keys with a live value. */
  keys: number
  /** Keys whose latest op is a delete. */
  tombstones: number
}

/**
 * Storage for one replica. All calls are synchronous (better-sqlite3 is), and
 * each mutating call is one atomic transaction.
 */
export interface Store {
  /** The latest op for `key`, tombstones included. */
  get(key: string): Op | undefined
  /** Live entries (no tombstones), sorted by key (UTF-8 byte order). */
  list(options?: ListOptions): Op[]
  /**
   * In one transaction: for each op, replace the stored op for its key when the
   * incoming one is newer (see `compareVersions`), record its (origin, seq) in
   * the version vector, and raise the stored clock to at least its stamp.
   * Returns the ops that changed a key, in input order. Idempotent: applying
   * an op twice changes nothing the second time.
   */
  apply(ops: Op[]): Op[]
  /** The contiguous version vector. */
  vector(): VersionVector
  /**
   * Raise each origin's entry to at least `theirs[origin]`. Call only after
   * applying every op the peer sent against our vector (a complete sync).
   */
  mergeVector(theirs: VersionVector): void
  /**
   * Stored ops the holder of `theirs` may lack: ops whose seq is above
   * `theirs[op.origin]` (all ops of origins missing from `theirs`), ordered by
   * (origin, seq), in pages. Cost scales with the answer, not the store.
   */
  missing(theirs: VersionVector, options: MissingOptions): MissingPage
  /**
   * Tombstones removed so far: origin → highest seq of a removed tombstone.
   * A peer whose vector is below it on any origin may hold values deleted
   * here, and must resync from a snapshot.
   */
  gcVector(): VersionVector
  /** Raises the GC vector to at least `theirs` (after resyncing from a peer's snapshot). */
  mergeGcVector(theirs: VersionVector): void
  /**
   * Removes tombstones, in one transaction: those stamped before
   * `stableBefore` whose op every peer has seen (`seq <= stable[origin]`), and
   * any stamped before `anyBefore`. Returns how many it removed.
   */
  collectTombstones(options: CollectOptions): number
  /**
   * After applying a full snapshot from a peer whose vector was `covered`:
   * removes every row whose key the snapshot did not hold although the peer
   * had seen its op — the peer deleted it and has since collected the
   * tombstone. Rows the peer has not seen (our own offline writes) stay.
   * Returns the removed ops.
   */
  pruneAbsent(present: Set<string>, covered: VersionVector): Op[]
  /** The highest stamp this replica has issued or seen (persisted, so the clock never runs backwards across restarts). */
  clock(): Stamp
  counts(): StoreCounts
  close(): void
}
