/**
 * The replicated map's data model, and the storage primitives the replica
 * (`replica/`) builds on.
 *
 * Every key is a last-writer-wins register. A write is an `Op`; the op with
 * the highest `(wall, logical, origin)` for a key wins everywhere, so replicas
 * that hold the same set of ops hold the same state whatever order the ops
 * arrived in. A delete is an op whose `value` is null (a tombstone).
 */
import type { PastStore } from './past-types.js'
import type { ChangeMarks, ChangeRecord, RowOptions, StoreCounts } from './store-types.js'

export type { PastStore, PastVersion, Trimmed } from './past-types.js'
export type { ChangeMarks, ChangeRecord, ListOptions, RowOptions, StoreCounts } from './store-types.js'

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

/**
 * What a value's bytes are: UTF-8 `text` (the default), a `json` document, or
 * opaque `binary`. Signed with the op and replicated, so every replica reads
 * a value the same way.
 */
export type ValueType = 'text' | 'json' | 'binary'

/**
 * The version of its key the writer's replica held when it wrote an op (the
 * row it replaced, a tombstone included): what the writer had seen. `wall`
 * 0 says it held none (see `NOTHING_SEEN`).
 */
export interface Seen extends Stamp {
  origin: string
}

/** One write. `value === null` is a delete (tombstone). */
export interface Op extends Version {
  key: string
  value: Uint8Array | null
  /** The value's type; absent for text (and always for a tombstone), so a text op reads as it did before types existed. */
  type?: 'json' | 'binary'
  /**
   * When the value expires: an HLC wall time in ms, signed with the op. From
   * then on a replica whose clock has reached it reads the key as absent; the
   * row stays, ranked as the write it is, until collected like a tombstone
   * (see `replica/expiry.ts`). Absent for a value that never expires (and
   * always for a tombstone).
   */
  expires?: number
  /**
   * What the writer had seen of the key (signed with the op; see
   * `replica/conflicts.ts`). Absent from ops written by nodes before history:
   * those are never classified as conflicting or not.
   */
  seen?: Seen
  /**
   * A keepalive refresh (signed with the op): the origin wrote again, only
   * to move the expiry, what it held of the key. Only with `expires` and a
   * `seen` of the op's own origin (the codec refuses any other). A refresh is
   * never kept as a past version (see `replica/history.ts`), so refreshes
   * take no slot of a key's history. Absent on every other op.
   */
  refresh?: true
  /**
   * The origin's signature over the batch this op was written in (see
   * `proof.ts`), so the op can be relayed by anyone and still be checked.
   * A store's `row()` returns it with the signature only (for ranking);
   * `opsOf()` returns it whole.
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

/**
 * What ranking a row against an arriving op and replacing it need, read
 * without the row's value (`Store.rowsAt`): all of the order but the value,
 * which breaks a tie only between two ops an origin signed with one version.
 */
export interface Head extends Version {
  key: string
  /** False for a tombstone. */
  live: boolean
  /** Its batch's signature (null when unsigned). */
  sig: Uint8Array | null
  /** What its writer had seen of the key (see `Op.seen`). */
  seen?: Seen
  /** A keepalive refresh (see `Op.refresh`). */
  refresh?: true
}

/**
 * A head as `Store.rowsAt` returns it, with what applying a batch may skip
 * its history queries for: whether the key has no past versions yet (none
 * kept, none trimmed), and its value's size. Both may be absent (unknown).
 */
export interface RowHead extends Head {
  pastless?: boolean
  bytes?: number
  /** With `pastless`: the row as a past version keeps it (no proof, no expiry), so keeping it needs no read back. */
  asPast?: Op
}

/** An op as `Store.opsOf` returns it: `superseded` when it lost and waits in history. */
export interface HeldOp extends Op {
  superseded?: boolean
}

/** A change a caller asks for: a put (bytes) or a delete (null). */
export interface Change {
  key: string
  value: Uint8Array | null
  /** A put's value type (default text). */
  type?: ValueType
  /** A put that expires this long after its stamp (see `Op.expires`). */
  ttlMs?: number
  /** A put that expires at this HLC wall time: a value written again keeps its expiry. */
  expires?: number
  /**
   * A keepalive's refresh: written as `Op.refresh` when the key's row, the
   * version it saw, is this node's own put with an expiry of the same value
   * and type; otherwise as a plain put.
   */
  refresh?: boolean
}

/** Origin → a sequence number. What it means depends on where it comes from: see `OriginState`. */
export type VersionVector = Record<string, number>

/** A point in one origin's sequence: a seq, the stamp of the op there, and the digest accumulator up to it. */
export interface Mark extends Stamp {
  seq: number
  /** XOR of `opDigest` of every op held with seq <= `seq` (every version, if the origin signed several). */
  acc: Uint8Array
}

/**
 * What a replica holds of one origin's ops. Ops are applied in each origin's
 * sequence order, so `held.seq` is a contiguous prefix: every op of the
 * origin up to it is in the store (as the row of its key, in history when a
 * newer op replaced it) or was collected (at or below `floor.seq`).
 */
export interface OriginState {
  held: Mark
  /** Ops at or below `floor.seq` may be collected: every member of the group holds them. */
  floor: Mark
}

/**
 * Storage for one replica: synchronous primitives (better-sqlite3 is
 * synchronous). Mutations run inside `transaction()`; the replica decides
 * what they mean. Keys starting with U+0000 are murmur's own records
 * (members' attestations): stored and replicated like any other, but not
 * listed or counted unless asked for.
 */
export interface Store {
  /** Past versions of user keys, for history (on this node only). */
  readonly past: PastStore
  /** Runs `fn` as one atomic transaction; a throw rolls back every mutation in it. */
  transaction<T>(fn: () => T): T
  /** The row (current op) for `key`, tombstones included. Its proof, if any, carries only the signature. */
  row(key: string): Op | undefined
  /** The heads of the rows (tombstones included) of those of `keys` (user keys) that have one: one read for many. */
  rowsAt(keys: string[]): Map<string, RowHead>
  /** Rows in key order (UTF-8 bytes): live ones, plus tombstones and murmur's own records when asked for. */
  rows(options?: RowOptions): Op[]
  /**
   * Makes `op` (whose `opDigest` is `digest`) the row for its key. The
   * previous row, if any, must have been superseded or removed first.
   */
  put(op: Op, digest: Uint8Array): void
  /**
   * Copies the current row of `row.key` (whose head is `row`) to history,
   * keeping its proof; the op that beat it must be `put` next, in the same
   * transaction, and replaces it in place.
   */
  supersede(row: Head): void
  /** Records in history an op that lost to the row for its key on arrival. */
  addHistory(op: Op, digest: Uint8Array): void
  /**
   * Deletes the row whose head is `row` (a collected tombstone, or a row a
   * snapshot showed collected). `replaced`: the op that beat it (the row
   * was collected as it lost) is `put` next, in the same transaction, so the
   * key stays and only that put is a change: no cursor, no floor moved.
   */
  remove(row: Head, replaced?: boolean): void
  /** Gives this node's own `ops`, committed unsigned, the proofs they now carry: rows and history alike (see `Replica.prove`). */
  prove(ops: Op[]): void
  /** The highest seq of `origin` held with a signature, rows and history (0: none). */
  signedUpTo(origin: string): number
  /**
   * Ops of `origin` above seq `after`, rows and history together, in seq
   * order with their whole proofs: about `limit` of them, the last batch
   * completed and every version of the last seq included; or fewer, once
   * they hold `maxBytes` (`payloadSize`, at least one seq's ops), read no
   * further than that.
   */
  opsOf(origin: string, after: number, limit: number, maxBytes?: number): HeldOp[]
  /** `opDigest` of every op held at `(origin, seq)`, rows and history. */
  digestsAt(origin: string, seq: number): Uint8Array[]
  /** `opDigest` of every op held of `origin` with `after < seq <= upTo`. */
  digestsIn(origin: string, after: number, upTo: number): Uint8Array[]
  /** The lowest stamp among the ops held at `(origin, seq)`. */
  stampAt(origin: string, seq: number): Stamp | undefined
  /** Ops of `origin` under `key` in history (superseded), highest seq first, at most `limit`. */
  supersededOf(origin: string, key: string, limit: number): Op[]
  /** Deletes history of `origin` at or below `upTo`; returns how many ops went. */
  dropHistory(origin: string, upTo: number): number
  /**
   * Keeps a snapshot's rows aside (with their whole proofs) until the
   * snapshot is taken in one transaction: a crash halfway through leaves the
   * replica as it was. The latest op staged for a key replaces an earlier one.
   */
  stage(ops: Op[]): void
  /** Staged ops in key order (UTF-8 bytes), after key `after`, at most `limit`. */
  staged(after: string | undefined, limit: number): Op[]
  /** Forgets every staged op. */
  clearStaged(): void
  /**
   * Rows of `origin` at or below seq `upTo` that may be collected: tombstones
   * stamped before `beforeWall`, and values that expired before `expiredBefore`.
   */
  tombstones(origin: string, upTo: number, beforeWall: number, expiredBefore: number): Op[]
  /** Live user rows whose expiry is in `(after, upTo]`, by expiry, at most `limit`. */
  expiring(after: number, upTo: number, limit: number): Op[]
  /** Gives the row `op` (its key's current row) a new change cursor: it expired (see `Store.changes`). */
  touch(op: Op): void
  /** Every origin this replica holds ops of. */
  origins(): Map<string, OriginState>
  setOrigin(origin: string, state: OriginState): void
  /** The highest stamp this replica has issued or seen (persisted, so the clock never runs backwards across restarts). */
  clock(): Stamp
  setClock(stamp: Stamp): void
  /**
   * User keys whose latest change has a cursor above `after`, in cursor
   * order, at most `limit`, with their rows (see change-cursors.ts).
   */
  changes(after: number, limit: number): ChangeRecord[]
  /** The latest cursor and the floor below which changes may be gone. */
  changeMarks(): ChangeMarks
  /** The cursor an op written (or a key removed) in this process got, while the op is still held by the caller. */
  cursorOf(op: Op): number | undefined
  /**
   * Calls `changed` whenever a user key under `prefix` is put or its row
   * removed, at the mutation (even in a transaction that then rolls back),
   * whatever wrote it: for a cache of those keys. Returns a function that stops it.
   */
  watch(prefix: string, changed: () => void): () => void
  /** A small persisted value (the GC horizon, creation time, equivocation reports), or undefined. */
  meta(name: string): string | undefined
  setMeta(name: string, value: string): void
  counts(): StoreCounts
  /** Resolves once every commit so far is on disk (a no-op for stores that keep nothing on disk). */
  sync(): Promise<void>
  /** `sync()` on this thread. */
  syncNow(): void
  close(): void
}
