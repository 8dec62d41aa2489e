/**
 * One node's replica, with no network and no real clock of its own: the
 * replication core. It owns every decision — what to take from a peer, when
 * an op applies, what counts as held, what may be collected, what a sync
 * asks for, believes and serves — and the network around it only moves bytes.
 *
 * The rule behind all of them: a peer's word is a hint, never a fact. What
 * this node holds (its held prefixes), collects (its floors) and serves
 * follows only from ops it holds and has checked, and from attestations its
 * members signed. What a peer says in a sync (its vector, its collection
 * horizon) decides only what to ask for and when.
 */
import { attestEvery, encodeAttestation } from '../attestation.js'
import { attestationKey, isReserved } from '../keys.js'
import { freshOrigin } from '../marks.js'
import { proveOps } from '../proof.js'
import { expiryOf, typeOf, withoutProof } from '../value-type.js'
import { readRows } from './apply.js'
import { collect, type Collected } from './collect.js'
import { expiryClock, isExpired, sweep } from './expiry.js'
import { commit, emptyReceived, receive, release, type ReceiveContext, type Received } from './inbound.js'
import { committed, proveOwn, signerAtCommit } from './signing.js'
import { openState, type ReplicaInit, type ReplicaState } from './state.js'
import { saveRewrites } from './rewrites.js'
import type { Refusal } from './checker.js'
import { screen, type Screened } from './known.js'
import { nothingSeen } from './conflicts.js'
import { replicaStatus, type ReplicaStatus } from './status.js'
import type { Change, ListOptions, Mark, Op, OriginState, PastVersion, RowHead, Seen, Stamp, StoreCounts, VersionVector } from '../types.js'

export type { ReplicaInit } from './state.js'
export type { ReplicaStatus } from './status.js'

/** A rewrite handed out whose row has not changed since is handed out again after this long. */
export const REHAND_MS = 30_000

export class Replica {
  readonly nodeId: string
  /** The state the sync sessions and this facade share; not for callers. */
  readonly state: ReplicaState

  constructor (init: ReplicaInit) {
    this.nodeId = init.nodeId
    this.state = openState(init)
  }

  get store (): ReplicaState['store'] {
    return this.state.store
  }

  /** The latest stamp issued or seen. */
  get clock (): Stamp {
    return this.state.hlc.peek()
  }

  /**
   * Stamps, signs and applies local changes in one transaction; returns the
   * ops. They may leave this node (be published or served) only after
   * `markDurable` says they are on disk.
   */
  write (changes: Change[]): Op[] {
    const own = attestationKey(this.nodeId)
    for (const change of changes) {
      if (isReserved(change.key) && change.key !== own) throw new RangeError(`key ${JSON.stringify(change.key)} is reserved for murmur's own records`)
      if (change.ttlMs !== undefined && !(Number.isSafeInteger(change.ttlMs) && change.ttlMs > 0)) throw new RangeError(`ttlMs ${change.ttlMs} is not a positive whole number of milliseconds`)
    }
    if (changes.length === 0) return []
    const ops = commit(this.state, () => this.made(changes), undefined, emptyReceived())
    committed(this.state, ops)
    return ops
  }

  /** `changes` as this node's next ops, stamped and signed: inside the transaction that applies them (`LocalBatch`). */
  private made (changes: Change[]): { ops: Op[], rows?: Map<string, RowHead> } {
    const first = (this.state.origins.get(this.nodeId) ?? freshOrigin()).held.seq + 1
    // what each write has seen (see `conflicts.ts`): its key's row, a tombstone included, or with none its
    // newest past version (a collected tombstone's), or nothing; for a key written twice here, the first write.
    // The rows are read once, for this and for the commit
    const rows = readRows(this.state.store, changes.length, changes, true)
    const written = this.state.store.past.newest([...new Set(changes.filter(change => !isReserved(change.key)).map(change => change.key))], rows)
    const ops: Op[] = changes.map((change, i) => {
      const { wall, logical } = this.state.hlc.now()
      const op: Op = { key: change.key, value: change.value, wall, logical, origin: this.nodeId, seq: first + i }
      if (change.type !== undefined && change.type !== 'text' && change.value !== null) op.type = change.type
      const expires = change.expires ?? (change.ttlMs !== undefined ? wall + change.ttlMs : undefined)
      if (expires !== undefined && change.value !== null) op.expires = expires
      if (!isReserved(change.key)) {
        op.seen = written.get(change.key) ?? nothingSeen(this.nodeId)
        written.set(change.key, { wall, logical, origin: this.nodeId })
        if (change.refresh === true && refreshes(this.state.store.row(change.key), op)) op.refresh = true
      }
      return op
    })
    const sign = signerAtCommit(this.state, ops)
    if (sign != null) proveOps(ops, sign)
    return { ops, rows }
  }

  /**
   * Writes this node should make again with new stamps, named by snapshots
   * and by ops older than a delete it collected (see `nameRewrite`); each
   * only while its key's row is still the op it was named over. Write them
   * like any change (soon after each pull, say). Each is handed out once, and
   * again after `REHAND_MS` (or a restart: they are kept on disk) if its row
   * is still that op, so a write lost on the way is made after all.
   */
  rewrites (now = this.state.now()): Change[] {
    const due: Change[] = []
    let dropped = false
    for (const [key, { over, remove }] of this.state.rewrites) {
      const row = this.state.store.row(key)
      if (row === undefined || row.origin !== over.origin || row.seq !== over.seq) {
        this.state.rewrites.delete(key)
        this.state.handed.delete(key)
        dropped = true
        continue
      }
      if (now - (this.state.handed.get(key) ?? -Infinity) < REHAND_MS) continue
      this.state.handed.set(key, now)
      due.push(remove ? { key, value: null } : { key, value: row.value, ...typeOf(row), ...expiryOf(row) })
    }
    if (!dropped && !this.state.rewritesUnsaved) return due
    try {
      saveRewrites(this.state)
      this.state.rewritesUnsaved = false
    } catch (err) {
      // a full disk: the names dropped go from `meta` at the next call (reloaded before that, they are dropped again);
      // thrown, it failed the writes again still due, and the simulator's node with them (hostile seed 53939)
      if (!String((err as { code?: unknown }).code ?? '').startsWith('SQLITE_')) throw err
      this.state.rewritesUnsaved = true
    }
    return due
  }

  /** This node's ops up to `seq` are on disk (with `signLater`, their proofs too): from now on they may be published and served. */
  markDurable (seq: number): void {
    this.state.durable = Math.max(this.state.durable, this.state.signLater ? Math.min(seq, this.state.proven) : seq)
  }

  /**
   * With `signLater`: signs own ops up to the last of `ops` (as `write`
   * returned them; none: every op held) and stores the proofs; mark them
   * durable once that is on disk (see `signing.ts`). Returns the ops signed.
   */
  prove (ops: Op[] = []): Op[] {
    return proveOwn(this.state, ops)
  }

  /** How many received ops wait for an earlier one (or for their time). */
  get waiting (): number {
    return this.state.pending.size
  }

  /** The highest own seq known to be on disk. */
  get durableSeq (): number {
    return this.state.durable
  }

  /**
   * This node's attestation, when one is due (ops arrived since the last one,
   * at most once per `attestEvery` of the origins it names, and at least every
   * quarter of the retention, capped at an hour): write it like any change.
   */
  attestation (now = this.state.now()): Change | undefined {
    const quiet = now - this.state.lastAttest
    const heartbeat = Math.min(this.state.config.retentionMs / 4, 3_600_000)
    const marks = new Map<string, Mark>()
    for (const [origin, known] of this.state.origins) if (known.held.seq > 0) marks.set(origin, known.held)
    if (!(this.state.dirty && quiet >= attestEvery(marks.size, this.state.config.attestIntervalMs, this.state.config.attestMsPerOrigin)) && quiet < heartbeat) return undefined
    this.state.dirty = false
    this.state.lastAttest = now
    return { key: attestationKey(this.nodeId), value: encodeAttestation(marks) }
  }

  /** Takes ops from a peer (see `inbound.ts`). */
  receive (ops: Op[], context: ReceiveContext = { via: 'sync' }): Received {
    return receive(this.state, ops, context)
  }

  /** Applies waiting ops the clock now allows; call about once a second. */
  release (): Received {
    return release(this.state)
  }

  /** Collects what every member holds (see `collect.ts`); call every few seconds. */
  collect (now = this.state.now()): Collected {
    return collect(this.state, now)
  }

  /**
   * Members whose newest attestation disagreed with this node's ops and that
   * it has not asked for those ops again since (a pull from one asks, see
   * `Hello.recheck`): until it has, the member holds collection back.
   */
  rechecksDue (): string[] {
    const due = new Set<string>()
    for (const [key, mismatch] of this.state.stability.mismatches) if (this.state.rechecked.get(key) !== mismatch.attestation) due.add(mismatch.member)
    return [...due]
  }

  /**
   * A connection to `peer` opened: the next pull from it sends the whole
   * hello. Whether the two held the same when a pull last ended says little
   * after a partition, and a short hello would cost the pull after it a
   * round (500 ms, where a node waits for gossip first: see `sync/hello.ts`).
   */
  reconnected (peer: string): void {
    this.state.inStep.delete(peer)
  }

  /** Why `op` from a peer must be refused (signature, allow-list, record shape), or undefined. */
  check (op: Op): Refusal | undefined {
    return this.state.checker.problem(op)
  }

  /** A gossip message's ops: those held here already apart (unchecked: they change nothing), the rest checked (see `known.ts`). */
  screen (ops: Op[]): Screened {
    return screen(this.state, ops)
  }

  /** The key's live value, or undefined: absent, deleted, or expired (see `expiry.ts`). */
  get (key: string, now = this.state.now()): Op | undefined {
    if (isReserved(key)) return undefined
    const op = this.state.store.row(key)
    return op === undefined || isExpired(op, expiryClock(this.state, now)) ? undefined : withoutProof(op)
  }

  /** `key`'s past versions held here, newest first, at most `limit` (its current row is `get`). */
  history (key: string, limit = this.state.history.versions): PastVersion[] {
    return isReserved(key) ? [] : this.state.store.past.list(key, limit)
  }

  /** Live user entries in key order (expired values left out). */
  list (options?: ListOptions, now = this.state.now()): Op[] {
    return this.state.store.rows({ ...options, liveAt: expiryClock(this.state, now) }).map(withoutProof)
  }

  /** This node's time for expiry (see `expiry.ts`). */
  expiryClock (now = this.state.now()): number {
    return expiryClock(this.state, now)
  }

  /**
   * Rows whose expiry fell since the last call, each with a new change cursor
   * (`store.cursorOf` on the op returned; see `expiry.ts`): tell watchers
   * `expire`. Call about once a second.
   */
  expire (now = this.state.now()): Op[] {
    return sweep(this.state, now)
  }

  /** Whether the change of `op` is an expiry for watchers: its expiry is one the sweep passed. */
  sweptExpiry (op: Op): boolean {
    return isExpired(op, this.state.swept)
  }

  counts (): StoreCounts {
    return this.state.store.counts()
  }

  /** Origin → the seq up to which this node holds every op of it. */
  vector (): VersionVector {
    return Object.fromEntries([...this.state.origins].map(([origin, known]) => [origin, known.held.seq]))
  }

  origin (origin: string): OriginState | undefined {
    return this.state.origins.get(origin)
  }

  status (now = this.state.now()): ReplicaStatus {
    return replicaStatus(this.state, now)
  }
}

/** Whether `op`, a put with an expiry that saw `row`, only refreshes it: this node's own put with an expiry of the same value and type. */
function refreshes (row: Op | undefined, op: Op): boolean {
  const seen = op.seen
  return row !== undefined && op.expires !== undefined && op.value !== null && row.value !== null && row.expires !== undefined &&
    row.origin === op.origin && seen !== undefined && seen.origin === row.origin && seen.wall === row.wall && seen.logical === row.logical &&
    (row.type ?? 'text') === (op.type ?? 'text') && Buffer.compare(row.value, op.value) === 0
}
