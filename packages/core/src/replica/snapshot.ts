/**
 * Catching up from a snapshot: for a node behind what a peer has collected
 * (new, or back after its ops were collected without it).
 *
 * The peer sends every member's attestation first. This node checks their
 * signatures and takes, per origin, the lowest seq any member (other than
 * itself, and none silent past the retention) attested: every member holds
 * those ops, so the ones that lost are gone for good and the rest are rows.
 * The peer's rows at or below those floors are staged as they arrive; after
 * the last one, `settle` takes them all in one transaction, floors and held
 * prefixes jumping with them; the ops above come afterwards in order, as in
 * any sync.
 */
import { decodeAttestation } from '../attestation.js'
import { compareStamps, headOf, isNewer } from '../compare.js'
import { isReserved } from '../keys.js'
import { digestOf, freshOrigin } from '../marks.js'
import { expiryOf, typeOf } from '../value-type.js'
import type { Refusal } from './checker.js'
import { KeyHistory } from './history.js'
import type { SnapshotReason } from './snapshot-gate.js'
import { raiseHorizon, type ReplicaState } from './state.js'
import { nameRewrite, saveRewrites } from './rewrites.js'
import type { Change, Mark, Op, OriginState, PastVersion, Stamp } from '../types.js'

/** Floors from a peer's attestations: origin → the lowest mark any counted member attested. */
export function attestedFloors (state: ReplicaState, ops: Op[], refused: Refusal[]): Map<string, Mark> {
  const now = state.now()
  const floors = new Map<string, Mark>()
  const members: Array<Map<string, Mark>> = []
  for (const op of ops) {
    const refusal = state.checker.problem(op)
    if (refusal != null) {
      refused.push(refusal)
      continue
    }
    const attestation = decodeAttestation(op)
    if (attestation.member === state.self || attestation.stamp.wall < now - state.config.retentionMs) continue
    members.push(attestation.marks)
  }
  if (members.length === 0) return floors
  for (const origin of new Set(members.flatMap(marks => [...marks.keys()]))) {
    let lowest: Mark | undefined
    for (const marks of members) {
      const mark = marks.get(origin)
      if (mark === undefined) {
        lowest = undefined
        break
      }
      if (lowest === undefined || mark.seq < lowest.seq) lowest = mark
    }
    if (lowest !== undefined) floors.set(origin, lowest)
  }
  return floors
}

/**
 * Where to jump, per origin: the server's floor, where its rows end and its
 * ops begin, provided every member attested holding that much (its seq is at
 * or below the attested floor). Its stamp and accumulator are the server's
 * word where no attestation has a mark at that seq: a wrong one only makes
 * this node disagree with the next attestations it checks (and collect
 * nothing until that is resolved), never skip an op no member holds.
 *
 * One exception: the server's floor for its own ops, up to what its own
 * attestation says it holds. It is the authority on its own ops (a false
 * claim could only hide ops it could as well never have written), and it is
 * the only way back for two sides that each collected without the other.
 */
export function jumpMarks (attested: Map<string, Mark>, claimed: Record<string, Claimed>, server?: { id: string, own?: Mark }): Map<string, Mark> {
  const marks = new Map<string, Mark>()
  for (const [origin, floor] of Object.entries(claimed)) {
    const seq = floor[0]
    const bound = origin === server?.id && server.own !== undefined && seq > (attested.get(origin)?.seq ?? 0) ? server.own : attested.get(origin)
    if (bound === undefined || seq > bound.seq) continue
    marks.set(origin, seq === bound.seq ? bound : claimedMark(floor))
  }
  return marks
}

/** A floor as a server's hello claims it: `[seq, wall, logical, acc (base64)]`. */
type Claimed = [number, number, number, string]

function claimedMark ([seq, wall, logical, acc]: Claimed): Mark {
  return { seq, wall, logical, acc: new Uint8Array(Buffer.from(acc, 'base64')) }
}

/**
 * The server's floors that `jump` left out because not every member's
 * attestation reaches them: a floor collected before some members were known
 * (an open group), or a lie. Only a node stuck behind them may take one, and
 * only as far as the origin itself vouches (see `snapshotReason`).
 */
export function unattestedMarks (claimed: Record<string, Claimed>, jump: Map<string, Mark>): Map<string, Mark> {
  const marks = new Map<string, Mark>()
  for (const [origin, floor] of Object.entries(claimed)) if (!jump.has(origin)) marks.set(origin, claimedMark(floor))
  return marks
}

/**
 * Up to where, per origin, a row this node holds and the snapshot lacks was
 * superseded and collected: the jump, or where none (an attestation older
 * than the server's floor), the lower of the server's floor (its rows up to
 * there are all in the snapshot) and what every member attested holding (so
 * the server held the row too, and dropped it).
 */
export function pruneFloors (attested: Map<string, Mark>, claimed: Record<string, [number, number, number, string]>, jump: Map<string, Mark>): Map<string, number> {
  const floors = new Map<string, number>()
  for (const [origin, [seq]] of Object.entries(claimed)) {
    const jumped = jump.get(origin)?.seq
    const bound = attested.get(origin)?.seq
    if (jumped !== undefined) floors.set(origin, jumped)
    else if (bound !== undefined) floors.set(origin, Math.min(seq, bound))
  }
  return floors
}


/**
 * Keeps the rows of a snapshot frame that the floors cover (checked, out of
 * order: their predecessors are collected) aside until `settle`. Records
 * the keys of every row that passed the checks in `present`.
 */
export function stageRows (state: ReplicaState, ops: Op[], floors: Map<string, Mark>, present: Set<string>, refused: Refusal[]): void {
  const covered: Op[] = []
  for (const op of ops) {
    const refusal = state.checker.problem(op)
    if (refusal != null) {
      refused.push(refusal)
      continue
    }
    present.add(op.key)
    if (op.seq <= (floors.get(op.origin)?.seq ?? 0)) covered.push(op)
  }
  if (covered.length > 0) state.store.stage(covered)
}

export interface Settled {
  /** Ops that became the row of their user key. */
  changed: Op[]
  /** Rows removed: covered by the floors, absent from the snapshot. */
  removed: Op[]
  /** Writes named to be made again with new stamps (`Replica.rewrites` gives those still due). */
  reissue: Change[]
  /** Past versions found to have lost to a write that had not seen them. */
  conflicts: PastVersion[]
}

/** This node's own rows, by seq. */
function ownRows (state: ReplicaState): Op[] {
  const rows: Op[] = []
  for (let after = 0; ;) {
    const page = state.store.opsOf(state.self, after, PAGE)
    rows.push(...page.filter(op => op.superseded !== true))
    const last = page.at(-1)
    if (last === undefined || page.length < PAGE) return rows
    after = last.seq
  }
}

/** Names `change` (the row `over`'s own value, or a delete) to be written again; new names go to `end.reissue`. */
function again (end: Settled, state: ReplicaState, change: Change, over: Op): void {
  const named = state.rewrites.get(change.key)
  if (named === undefined || named.over.origin !== over.origin || named.over.seq !== over.seq) end.reissue.push(change)
  nameRewrite(state, change.key, over, change.value === null)
}

/** Staged rows read per page while a snapshot is taken. */
const PAGE = 1000

/**
 * Takes a snapshot in one transaction, so a crash leaves this node as it was
 * before or after, never between: floors (and held prefixes, where behind)
 * jump to `floors`; the staged rows become rows, except ops this node already
 * held (it holds them, or what beat them, or knows them collected: taking them
 * again would bring back what a collected delete removed); unless joining,
 * its rows at or below `prune` that the snapshot lacks were deleted and the
 * delete collected, by the peer's account: tombstones go, and values are
 * named to be deleted again by this node; and its rows above `prune` (not
 * every member attested holding them; when joining, only its own) that are
 * older than the newest delete the peer collected are named, to be written
 * again with new stamps, so they mean the same on every node whether or not
 * that delete hit them; and so are the values it takes from the snapshot
 * that are older than the newest delete it collected itself, for the same
 * reason the other way round.
 */
export function settle (state: ReplicaState, floors: Map<string, Mark>, prune: Map<string, number>, present: Set<string>, horizon: Stamp, reason: SnapshotReason): Settled {
  const end: Settled = { changed: [], removed: [], reissue: [], conflicts: [] }
  const moved = new Map<string, OriginState>()
  for (const [origin, mark] of floors) {
    const known = state.origins.get(origin) ?? freshOrigin()
    if (mark.seq > known.floor.seq) moved.set(origin, { held: mark.seq > known.held.seq ? mark : known.held, floor: mark })
  }
  const records: Op[] = []
  // user rows (values and tombstones) this node held before the snapshot
  const before = state.store.counts()
  const held = before.keys + before.tombstones
  // the marks' stamps and the rows are ops this node now counts as held: its clock moves past them, as past any op it takes
  let newest: Stamp | undefined
  const history = new KeyHistory(state.store, state.history)
  end.conflicts = history.conflicts
  for (const mark of floors.values()) if (newest === undefined || compareStamps(mark, newest) > 0) newest = mark
  state.store.transaction(() => {
    for (const [origin, next] of moved) state.store.setOrigin(origin, next)
    for (let page = state.store.staged(undefined, PAGE); page.length > 0; page = state.store.staged(page.at(-1)?.key, PAGE)) {
      for (const op of page) {
        if (newest === undefined || compareStamps(op, newest) > 0) newest = op
        if (op.seq <= (state.origins.get(op.origin)?.held.seq ?? 0)) continue
        const current = state.store.row(op.key)
        if (current !== undefined && !isNewer(op, current)) continue
        const found = history.conflicts.length
        if (current !== undefined) {
          history.replaced(current)
          if (current.seq <= (floors.get(current.origin)?.seq ?? 0)) state.store.remove(headOf(current), true)
          else state.store.supersede(headOf(current))
        }
        state.store.put(op, digestOf(op))
        history.won(op, found)
        if (isReserved(op.key)) records.push(op)
        else end.changed.push(op)
        // older than a delete collected here: this node cannot tell whether it was of this key (see `nameRewrite`)
        if (op.value !== null && !isReserved(op.key) && compareStamps(op, state.horizon) < 0) again(end, state, { key: op.key, value: op.value, ...typeOf(op), ...expiryOf(op) }, op)
      }
    }
    // only rows this node held before can need anything (murmur's records never do), and joining, only its own:
    // a new node, which holds none, makes no pass over the rows it just took
    const rows = held === 0 ? [] : reason === 'joining' ? ownRows(state) : state.store.rows({ tombstones: true, reserved: true })
    for (const row of rows) {
      if (row.seq <= (prune.get(row.origin) ?? 0)) {
        if (reason === 'joining' || present.has(row.key) || isReserved(row.key)) continue
        if (row.value === null) {
          // collected here now, as `collect` collects: an older value that comes later is measured against it
          history.replaced(row)
          state.store.remove(headOf(row))
          raiseHorizon(state, row)
          end.removed.push(row)
        } else {
          // deleted, and the delete collected, by the peer's account: deleted here too, by a delete of this node's
          // own, so that were the account false the whole group would still agree
          again(end, state, { key: row.key, value: null }, row)
        }
      } else if (row.value !== null && !isReserved(row.key) && (reason !== 'joining' || row.origin === state.self) && compareStamps(row, horizon) < 0) {
        again(end, state, { key: row.key, value: row.value, ...typeOf(row), ...expiryOf(row) }, row)
      }
    }
    // the prefixes it jumped may have held tombstones the server collected: this node now lacks them as if it had
    // collected them itself, so its horizon rises to the server's (no further than the newest floor it jumped to, which
    // the attestations vouch for), and a later sync sends witnesses with the older values they beat (seed 45698)
    let jumped: Stamp | undefined
    for (const { floor } of moved.values()) if (jumped === undefined || compareStamps(floor, jumped) > 0) jumped = floor
    if (jumped !== undefined) raiseHorizon(state, compareStamps(horizon, jumped) < 0 ? horizon : jumped)
    if (newest !== undefined) state.hlc.update(newest)
    if (end.reissue.length > 0) saveRewrites(state)
    state.store.clearStaged()
    state.store.setClock(state.hlc.peek())
  })
  for (const [origin, next] of moved) {
    state.origins.set(origin, next)
    // its accumulators are the snapshot's now: how members asked about it differed from them no longer holds
    state.stability.forgetAsked(origin)
    state.pending.dropUpTo(origin, next.held.seq)
    // its ops that waited past a gap the snapshot filled may apply now
    state.pending.wake(origin)
  }
  if (moved.size > 0) state.floorsMoved++
  state.settled++
  // what this node holds moved: its next attestation says so at its pace, not at the heartbeat (its last one, from before,
  // would hold every member's collection back until then: seed 9545)
  if (moved.size > 0) state.dirty = true
  if (reason === 'returning') {
    state.absent = false
    state.silent.clear()
    state.behind = undefined
  }
  for (const op of records) {
    const attestation = decodeAttestation(op)
    const known = state.attestations.get(attestation.member)
    if (known === undefined || attestation.seq > known.seq) state.attestations.set(attestation.member, attestation)
  }
  return end
}
