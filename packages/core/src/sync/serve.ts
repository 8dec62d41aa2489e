/**
 * The serving side of a sync: what a puller is sent, decided from what this
 * node holds. The puller's hello says what it holds; that decides only what
 * to send (a lying puller only misses ops).
 *
 * - A puller behind this node's floors (it lacks ops collected here) gets a
 *   snapshot: every member's attestation (and, for a member whose newest
 *   says it holds less of its own ops than this node's floor for them, the
 *   earlier one that said that much: `vouching`), then every row at or below the
 *   floors, per origin in seq order (unless its hello said `rows: false`:
 *   it declined this node's last offer), then the ops above them. In seq order,
 *   the rows of one signed batch travel together with its proof once: in key
 *   order, each frame carried a proof (up to 255 digests) for nearly every
 *   row of a batch written in no key order and since partly replaced. A
 *   snapshot taken here meanwhile ends the stream: a row it moved to another
 *   origin could be missed, and taken for deleted.
 * - Otherwise it gets, per origin in seq order, every op above its vector,
 *   rows and superseded ops alike, skipping what it says it holds waiting;
 *   for an origin it asks to recheck, every op above that seq (or above this
 *   node's floor, where its ops end).
 * - A superseded op goes with a witness (the op that beat it) when the
 *   puller's vector covers that op, so a puller that has since collected it
 *   does not take the loser for the latest; only when the loser is stamped
 *   at or before the puller's horizon (its newest collected tombstone), the
 *   only case where it can have collected what beat it (a puller that says
 *   nothing gets every witness; one that lies only misses some).
 * - A puller that sends only a digest of its vector (`hello.ts`) gets this
 *   node's digest and `done`, with this node's vector when they differ.
 * - This node's own ops leave only once they are on disk, proofs included
 *   (`durableSeq`), and its hello's vector names its own only that far: what
 *   it would not send, it does not claim.
 *
 * Frames are produced lazily (a generator), one page of the store at a time
 * (`PageSize`: a few MiB at most): across the network's backpressure this
 * holds a cursor and that page.
 */
import { decodeAttestation } from '../attestation.js'
import { compareStamps } from '../compare.js'
import { attestationKey, RESERVED_PREFIX } from '../keys.js'
import { seqOf } from '../marks.js'
import { chunkByBatch } from './chunk.js'
import { PageSize } from './page-size.js'
import { summarize } from './hello.js'
import type { Frame, Hello, OpsKind } from './messages.js'
import type { Replica } from '../replica/replica.js'
import type { HeldOp, Mark, Op, OpProof, VersionVector } from '../types.js'

export interface ServeInit {
  group: string
  name: string
  /** Ops read from the store per page. @default 512 */
  pageOps?: number
  /** Payload bytes per frame, before encoding. @default 1 MiB */
  frameBytes?: number
  /** Payload bytes per page read from the store (`PageSize`), beside `pageOps`. @default 2 × frameBytes */
  pageBytes?: number
}

/** Whether `vector` lacks ops this node has collected: its holder needs a snapshot. */
export function isBehind (vector: VersionVector, floors: ReadonlyMap<string, { floor: { seq: number } }>): boolean {
  for (const [origin, known] of floors) if (known.floor.seq > seqOf(vector, origin)) return true
  return false
}

/** What this node holds and may serve: its own ops only up to `durable` (the rest wait for their proofs or their fsync). */
export function servedVector (replica: Replica): VersionVector {
  const vector = replica.vector()
  const { self, durable } = replica.state
  if ((vector[self] ?? 0) > durable) {
    if (durable > 0) vector[self] = durable
    else delete vector[self]
  }
  return vector
}

function floorsOf (origins: ReadonlyMap<string, { floor: Mark }>): Record<string, [number, number, number, string]> {
  const out: Record<string, [number, number, number, string]> = {}
  for (const [origin, { floor }] of origins) if (floor.seq > 0) out[origin] = [floor.seq, floor.wall, floor.logical, Buffer.from(floor.acc).toString('base64')]
  return out
}

export function * serve (replica: Replica, hello: Hello, init: ServeInit): Generator<Frame, void, undefined> {
  const state = replica.state
  if (hello.group !== init.group) {
    yield { kind: 'control', message: { t: 'reject', reason: `this node serves group "${init.group}", not "${hello.group}"` } }
    return
  }
  if (hello.summary !== undefined) {
    // the short form (`hello.ts`): nothing to send if the digests match; else this node's vector, for the puller to decide
    const vector = servedVector(replica)
    const summary = summarize(vector)
    yield { kind: 'control', message: { t: 'hello', group: init.group, name: init.name, now: Math.floor(state.now()), vector: summary === hello.summary ? {} : vector, summary } }
    yield { kind: 'control', message: { t: 'done' } }
    return
  }
  const snapshot = isBehind(hello.vector, state.origins)
  yield {
    kind: 'control',
    message: { t: 'hello', group: init.group, name: init.name, now: Math.floor(state.now()), vector: servedVector(replica), ...(snapshot ? { snapshot, horizon: [state.horizon.wall, state.horizon.logical] as [number, number], floors: floorsOf(state.origins) } : {}) }
  }
  const pageOps = init.pageOps ?? 512
  const frameBytes = init.frameBytes ?? 1024 * 1024
  const size = new PageSize(pageOps, init.pageBytes ?? 2 * frameBytes)
  const read = (origin: string, after: number): { page: HeldOp[], full: boolean } => size.read(state.store, origin, after)
  const leaves = (op: Op): boolean => op.origin !== state.self || op.seq <= state.durable
  const frames = function * (kind: OpsKind, ops: Op[]): Generator<Frame> {
    for (const chunk of chunkByBatch(ops, frameBytes)) yield { kind, ops: chunk }
  }
  const from = new Map<string, number>()
  for (const [origin, known] of state.origins) {
    const asked = seqOf(hello.vector, origin)
    // asked again (see `Hello.recheck`): from the floor at the lowest, where this node's ops end as rows
    from.set(origin, hello.recheck?.[origin] === undefined ? asked : Math.min(asked, Math.max(hello.recheck[origin], known.floor.seq)))
  }
  if (snapshot) {
    const attestations = state.store.rows({ prefix: RESERVED_PREFIX, reserved: true, proofs: true }).filter(leaves).filter(op => op.key === attestationKey(op.origin))
    yield * frames('attest', [...attestations, ...vouching(replica, attestations).filter(leaves)])
    const settled = state.settled
    for (const origin of hello.rows === false ? [] : [...state.origins.keys()].sort()) {
      for (let after = 0; after < (state.origins.get(origin)?.floor.seq ?? 0);) {
        const { page, full } = read(origin, after)
        if (state.settled !== settled) return
        const floor = state.origins.get(origin)?.floor.seq ?? 0
        yield * frames('import', page.filter(op => op.superseded !== true && op.seq <= floor && leaves(op)))
        const last = page.at(-1)
        if (last === undefined || !full) break
        after = last.seq
      }
    }
    for (const [origin, known] of state.origins) from.set(origin, Math.max(from.get(origin) ?? 0, known.floor.seq))
  }
  const covered = (op: Op): boolean => op.seq <= Math.max(seqOf(hello.vector, op.origin), snapshot ? (state.origins.get(op.origin)?.floor.seq ?? 0) : 0)
  const horizon = hello.horizon === undefined ? undefined : { wall: hello.horizon[0], logical: hello.horizon[1] }
  const mayNeedWitness = (op: Op): boolean => horizon === undefined || compareStamps(op, horizon) <= 0
  for (const origin of [...from.keys()].sort()) {
    const skip = hello.skip?.[origin] ?? []
    // nothing above the puller's vector (usually so for most origins): no need to read the store
    if ((from.get(origin) ?? 0) >= (state.origins.get(origin)?.held.seq ?? 0)) continue
    for (let after = from.get(origin) ?? 0; ;) {
      const { page, full } = read(origin, after)
      const sent = page.filter(op => leaves(op) && !skip.some(([a, b]) => op.seq >= a && op.seq <= b))
      const witnesses: Op[] = []
      // winners of one batch share one proof object, so a frame carries its signature and digests once, not once per witness
      const proofCache = new Map<string, OpProof | null>()
      const keys = new Set<string>()
      for (const op of sent) {
        // one witness per key: several ops of a page may have lost on one key
        if (op.superseded !== true || keys.has(op.key) || !mayNeedWitness(op)) continue
        keys.add(op.key)
        const winner = state.store.rows({ prefix: op.key, limit: 1, tombstones: true, reserved: true, proofs: true, proofCache })[0]
        if (winner !== undefined && winner.key === op.key && covered(winner) && leaves(winner)) witnesses.push(winner)
      }
      yield * frames('witness', witnesses)
      yield * frames('ops', sent)
      const last = page.at(-1)
      if (last === undefined || !full || !leaves(last)) break
      after = last.seq
    }
  }
  yield { kind: 'control', message: { t: 'done' } }
}

/** Superseded attestations of a member `vouching` looks through, newest first. */
const VOUCHING_LOOKBACK = 1024

/**
 * For each member whose current attestation (`current`) says it holds less
 * of its own ops than this node's floor for them, its newest earlier
 * attestation (in history) that says it held that much: a puller jumps an
 * origin only as far as the origin itself vouches, and a member that once
 * attested its own ops cannot unsay it with a later attestation (a hostile
 * one may try, to keep a node that jumped them apart from peers that did
 * not: the node refuses to pull from them, and they could never jump).
 */
function vouching (replica: Replica, current: Op[]): Op[] {
  const state = replica.state
  const out: Op[] = []
  for (const op of current) {
    const floor = state.origins.get(op.origin)?.floor.seq ?? 0
    if (ownSeq(op) >= floor) continue
    const earlier = state.store.supersededOf(op.origin, op.key, VOUCHING_LOOKBACK).find(old => ownSeq(old) >= floor)
    // with its whole proof, as the rows are sent
    const whole = earlier === undefined ? undefined : state.store.opsOf(op.origin, earlier.seq - 1, 1).find(held => held.seq === earlier.seq && held.key === earlier.key)
    if (whole !== undefined) out.push(whole)
  }
  return out
}

/** What an attestation says its member held of its own ops (0: nothing, or not an attestation). */
function ownSeq (op: Op): number {
  try {
    return decodeAttestation(op).marks.get(op.origin)?.seq ?? 0
  } catch {
    return 0
  }
}
