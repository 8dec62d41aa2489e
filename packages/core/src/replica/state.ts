/**
 * A replica's working state, shared by the parts of the replication core
 * (inbound ops, collection, snapshots, sync): loaded from the store at open,
 * written through to it in the same transactions that change it.
 */
import { attestIntervalFor, attestMsPerOriginFor, decodeAttestation, type Attestation } from '../attestation.js'
import { compareStamps } from '../compare.js'
import { HybridLogicalClock } from '../hlc.js'
import { RESERVED_PREFIX } from '../keys.js'
import { OpChecker, type VerifyBatch } from './checker.js'
import type { HistoryBound } from './history.js'
import { PendingOps } from './pending.js'
import { RecentMarks } from './recent-marks.js'
import { mismatchKey, Stability, type RecheckedMark } from './stability.js'
import { loadRewrites, type Rewrite } from './rewrites.js'
import type { Mark, OriginState, Stamp, Store } from '../types.js'

export interface ReplicaInit {
  store: Store
  /** This node's ID; the origin of every op it writes. */
  nodeId: string
  /** Physical time in milliseconds. Default: `Date.now`. */
  now?: () => number
  /** Signs each batch of ops this node writes (over `proofPayload`). Default: ops are unsigned. */
  sign?: (payload: Uint8Array) => Uint8Array
  /**
   * Own ops are committed unsigned and signed by `Replica.prove` as they
   * leave, several commits a batch (see `signing.ts`). Default: each commit
   * signs its ops.
   */
  signLater?: boolean
  /**
   * With `signLater`: whether ops committed now would leave at once (nothing
   * to wait for): then they are signed in their commit, as signing them
   * later would gather nothing. Default: never.
   */
  leavesAtOnce?: () => boolean
  /** Checks an origin's batch signature. Default: none needed (every peer is trusted). */
  verify?: VerifyBatch
  /**
   * A closed group's members: only they may write, and each counts for
   * collection from the start, heard from or not. Default: an open group,
   * whose members are the origins this node holds ops of.
   */
  members?: Iterable<string>
  /** Remote ops stamped further than this ahead of our clock wait until it catches up. @default 60_000 */
  maxClockSkewMs?: number
  /** Remote ops stamped further ahead than this are refused (and fetched again later). @default 3_600_000 */
  maxHoldMs?: number
  /** Bytes of ops that may wait for a gap or for the clock. @default 64 MiB */
  pendingBytes?: number
  /** A tombstone is collected no sooner than this after it was written. @default 300_000 */
  tombstoneGraceMs?: number
  /**
   * How long what every member holds waits before it becomes the floors
   * (see `collect.ts`). @default `tombstoneGraceMs`
   */
  floorLagMs?: number
  /** A member silent for longer than this no longer holds back collection. @default 604_800_000 (7 days) */
  retentionMs?: number
  /** Behind what peers collected, with no sign it was away, a node takes a snapshot anyway after this long (`snapshotReason`). @default `STUCK_MS` (30 s) */
  stuckMs?: number
  /** The least time between two attestations while ops keep arriving. @default `attestIntervalFor(tombstoneGraceMs)` (10 s at the default grace) */
  attestIntervalMs?: number
  /** And at least this much per origin an attestation names (see `attestEvery`). @default `attestMsPerOriginFor(tombstoneGraceMs)` (1 s at the default grace) */
  attestMsPerOrigin?: number
  /** Versions of each key kept for history, the current one included (at least 1). @default 16 */
  historyVersions?: number
  /** Bytes of past values kept per key for history. @default 1 MiB */
  historyBytes?: number
}

/** How long a node stays behind what peers collected, with no sign it was away, before it takes a snapshot anyway. */
export const STUCK_MS = 30_000

export interface ReplicaState {
  readonly store: Store
  readonly self: string
  readonly now: () => number
  readonly hlc: HybridLogicalClock
  readonly sign?: (payload: Uint8Array) => Uint8Array
  /** Own ops are signed when they leave, not at their commit (`ReplicaInit.signLater`). */
  readonly signLater: boolean
  readonly leavesAtOnce?: () => boolean
  /** With `signLater`: own ops up to this seq carry their proofs (in the store; on disk once `durable` passes them). */
  proven: number
  readonly checker: OpChecker
  readonly pending: PendingOps
  readonly stability: Stability
  readonly origins: Map<string, OriginState>
  /** Each member's latest attestation, from the rows under its attestation key. */
  readonly attestations: Map<string, Attestation>
  /** Origin → the first seq at which two different ops of it were seen. */
  readonly equivocators: Map<string, number>
  /** Origin → the seqs (the last 64) at which this node took a second op of it, for the last 256 origins to sign one twice (see `Unasked.lacksOnlyHeld`); kept in `meta`. */
  readonly twice: Map<string, number[]>
  readonly config: Required<Pick<ReplicaInit, 'maxClockSkewMs' | 'maxHoldMs' | 'tombstoneGraceMs' | 'floorLagMs' | 'retentionMs' | 'stuckMs' | 'attestIntervalMs' | 'attestMsPerOrigin'>>
  /** What history keeps of each key (see `history.ts`). */
  readonly history: HistoryBound
  /** The newest tombstone ever collected here: no op older than it may be taken on trust. */
  horizon: Stamp
  /** Counts the times floors moved (a collection, a snapshot): what `covering` found holds until it changes. */
  floorsMoved: number
  /** Whether an attestation (they are never changed once read) held every floor here, and as of which `floorsMoved`. */
  readonly covering: WeakMap<Attestation, { floorsMoved: number, covers: boolean }>
  /** This node's own ops up to this seq are on disk, proofs included, and only those may leave it. */
  durable: number
  /** Ops other than attestations arrived or were written since the last attestation. */
  dirty: boolean
  lastAttest: number
  /** Why the last collection stopped, if it did. */
  blocked?: string
  /** The HLC wall time up to which expired rows have been given their `expire` change (see `expiry.ts`). */
  swept: number
  /**
   * This node was away (its newest op older than the retention) when it
   * opened, and has not caught up from a snapshot since: the group may have
   * gone on without it.
   */
  absent: boolean
  /**
   * Members that may have collected without this node, since it last caught
   * up from a snapshot: it counted them as evicted (silent past the
   * retention), or one of their attestations did not count it.
   */
  readonly silent: Set<string>
  /** Since when pulls have found it behind what peers collected, with no sign it was away, and when they last did. */
  behind?: { since: number, seen: number }
  /**
   * Recent cuts (what every member holds), oldest first: one becomes the
   * floors only once it is `floorLagMs` old (see `collect.ts`).
   */
  readonly cuts: Array<{ at: number, cut: Map<string, number> }>
  /** Mismatches already asked about: `member\norigin` → the attestation seq, and its mark with this node's accumulator there. */
  readonly rechecked: Map<string, number>
  readonly recheckedMarks: Map<string, RecheckedMark>
  /** Servers whose last pull found them holding what this node held: the next pull from them says so in a digest (`sync/hello.ts`). */
  readonly inStep: Set<string>
  /** Servers whose last snapshot offer this node declined: the next pull from them asks for none of its rows (`Hello.rows`). */
  readonly declined: Set<string>
  /** Servers a pull without rows found this node would now take a snapshot from, and when it last asked them again at once for it. */
  readonly wanted: Map<string, number>
  /**
   * Origin → its held seq, when the op after it was refused for order (see
   * `inbound.ts`): another version of the held seq, stamped earlier, may
   * exist that this node never saw. The next pull asks for it again.
   */
  readonly reorders: Map<string, number>
  /** Marks each held prefix passed through, the last ones and every 256th, so checking an attestation reads little. */
  readonly recent: RecentMarks
  /** Writes to make again with new stamps, by key (see `nameRewrite`); kept in `meta`, so a crash loses none. */
  readonly rewrites: Map<string, Rewrite>
  /** When each rewrite was last handed out (`Replica.rewrites`): not again while its write may be on its way. */
  readonly handed: Map<string, number>
  /** `rewrites` differ from their copy in `meta`: its last save failed (a full disk), so the next `Replica.rewrites` saves. */
  rewritesUnsaved: boolean
  /** The pull whose snapshot rows `snapshot_stage` holds: a newer one takes it over, and the older ends unsettled. */
  staging?: object
  /** Snapshots taken since this replica opened: one taken while a snapshot is served ends that stream (`serve`). */
  settled: number
}

export type { Rewrite } from './rewrites.js'

export function openState (init: ReplicaInit): ReplicaState {
  const { store, nodeId } = init
  const now = init.now ?? Date.now
  const origins = store.origins()
  const attestations = new Map<string, Attestation>()
  for (const row of store.rows({ prefix: RESERVED_PREFIX, reserved: true })) {
    try {
      const attestation = decodeAttestation(row)
      attestations.set(attestation.member, attestation)
    } catch {} // every stored row was checked on arrival; a stray one only means no attestation
  }
  const createdAt = Number(store.meta('created_at') ?? NaN)
  if (Number.isNaN(createdAt)) store.setMeta('created_at', String(now()))
  const members = new Set(init.members ?? [])
  const config = {
    maxClockSkewMs: init.maxClockSkewMs ?? 60_000,
    maxHoldMs: init.maxHoldMs ?? 3_600_000,
    tombstoneGraceMs: init.tombstoneGraceMs ?? 300_000,
    floorLagMs: init.floorLagMs ?? init.tombstoneGraceMs ?? 300_000,
    retentionMs: init.retentionMs ?? 604_800_000,
    stuckMs: init.stuckMs ?? STUCK_MS,
    attestIntervalMs: init.attestIntervalMs ?? attestIntervalFor(init.tombstoneGraceMs ?? 300_000),
    attestMsPerOrigin: init.attestMsPerOrigin ?? attestMsPerOriginFor(init.tombstoneGraceMs ?? 300_000)
  }
  const held = origins.get(nodeId)?.held.seq ?? 0
  const signLater = init.signLater === true && init.sign != null
  // signed later: what a restart left unsigned was never sent, and leaves only once `prove` has signed it
  const proven = signLater ? Math.min(held, store.signedUpTo(nodeId)) : held
  const state: ReplicaState = {
    store,
    self: nodeId,
    now,
    hlc: new HybridLogicalClock({ now, initial: store.clock() }),
    sign: init.sign,
    signLater,
    leavesAtOnce: init.leavesAtOnce,
    proven,
    checker: new OpChecker({ verify: init.verify, allowed: members.size > 0 ? origin => origin === nodeId || members.has(origin) : undefined }),
    pending: new PendingOps(init.pendingBytes ?? 64 * 1024 * 1024, origin => (state.origins.get(origin)?.held.seq ?? 0) > 0),
    stability: undefined as unknown as Stability,
    origins,
    attestations,
    equivocators: new Map(Object.entries(JSON.parse(store.meta('equivocators') ?? '{}') as Record<string, number>)),
    twice: new Map(Object.entries(JSON.parse(store.meta('twice') ?? '{}') as Record<string, number[]>)),
    config,
    history: historyBound(init),
    horizon: parseStamp(store.meta('gc_horizon')),
    floorsMoved: 0,
    covering: new WeakMap(),
    durable: proven,
    dirty: true,
    lastAttest: -Infinity,
    swept: Number(store.meta('expiry_swept') ?? 0),
    rechecked: new Map(),
    recheckedMarks: new Map(),
    inStep: new Set(),
    declined: new Set(),
    wanted: new Map(),
    reorders: new Map(),
    cuts: [],
    recent: new RecentMarks(),
    rewrites: loadRewrites(store.meta('rewrites')),
    handed: new Map(),
    rewritesUnsaved: false,
    settled: 0,
    absent: held > 0 && now() - (origins.get(nodeId)?.held.wall ?? 0) > config.retentionMs,
    silent: new Set()
  }
  Object.assign(state, {
    stability: new Stability({
      store,
      recent: (origin, seq) => state.recent.get(origin, seq),
      above: (origin, seq) => state.recent.above(origin, seq),
      self: nodeId,
      origins: () => state.origins,
      attestations: () => state.attestations,
      rechecked: (member, origin) => state.rechecked.get(mismatchKey(member, origin)),
      recheckedMark: (member, origin) => state.recheckedMarks.get(mismatchKey(member, origin)),
      asked: (member, origin, seq, mark) => { noteAsked(state, member, origin, seq, mark) },
      twice: origin => state.twice.get(origin) ?? [],
      expected: members,
      retentionMs: config.retentionMs,
      createdAt: Number(store.meta('created_at'))
    })
  })
  noteSilent(state)
  return state
}

function historyBound (init: ReplicaInit): HistoryBound {
  const versions = init.historyVersions ?? 16
  const bytes = init.historyBytes ?? 1024 * 1024
  if (!Number.isSafeInteger(versions) || versions < 1) throw new RangeError(`historyVersions must be a whole number of at least 1, not ${versions}`)
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`historyBytes must be a whole number of bytes, not ${bytes}`)
  return { versions, bytes }
}

/**
 * `member`'s attestation `seq`, which disagreed on `origin`, counts as asked
 * about; `mark`: its mark of the origin with this node's accumulator there,
 * if this node could compute it (see `Stability.unchanged`).
 */
export function noteAsked (state: ReplicaState, member: string, origin: string, seq: number, mark: RecheckedMark | undefined): void {
  const key = mismatchKey(member, origin)
  state.rechecked.set(key, seq)
  if (mark !== undefined) state.recheckedMarks.set(key, mark)
  else state.recheckedMarks.delete(key)
}

export function formatStamp (stamp: Stamp): string {
  return `${stamp.wall}.${stamp.logical}`
}

function parseStamp (text: string | undefined): Stamp {
  const [wall, logical] = (text ?? '0.0').split('.').map(Number)
  return { wall: wall ?? 0, logical: logical ?? 0 }
}

/** Raises the GC horizon to `stamp` (persisted by the caller's transaction). */
export function raiseHorizon (state: ReplicaState, stamp: Stamp): void {
  if (compareStamps(stamp, state.horizon) <= 0) return
  state.horizon = { wall: stamp.wall, logical: stamp.logical }
  state.store.setMeta('gc_horizon', formatStamp(state.horizon))
}

/** Remembers every member now counted as evicted (see `ReplicaState.silent`). */
export function noteSilent (state: ReplicaState, now = state.now()): string[] {
  const { evicted } = state.stability.members(now)
  for (const member of evicted) state.silent.add(member)
  return evicted
}

/**
 * Remembers `attestation`'s member if it holds none of this node's ops though
 * this node wrote some before it (call before it replaces the member's
 * previous attestation: a member that once held some cannot unsay it).
 */
export function noteCountedOut (state: ReplicaState, attestation: Attestation): void {
  if (attestation.member === state.self || attestation.marks.has(state.self)) return
  if (state.attestations.get(attestation.member)?.marks.has(state.self) === true) return
  const own = state.origins.get(state.self)
  if (own !== undefined && own.held.seq > 0 && compareStamps(own.held, attestation.stamp) < 0) state.silent.add(attestation.member)
}
