/**
 * Applying ops to the store, inside one transaction: last-writer-wins per
 * key, the loser kept in history (so it can be served to peers that lack it
 * until every member holds it), and each origin's held prefix moved along.
 *
 * Every op handed here is either the next in its origin's sequence or one
 * more version of a seq already held (an origin that signed two different ops
 * with one seq): both are kept, each ranked on its own key, and the origin's
 * accumulator covers every version, so replicas that hold the same versions
 * agree on it.
 */
import { beats, compareStamps, headOf } from '../compare.js'
import { isReserved } from '../keys.js'
import { digestOf, freshOrigin, xorInto } from '../marks.js'
import { KeyHistory, type HistoryBound } from './history.js'
import { versionsAbove } from './known.js'
import type { Head, Mark, Op, OriginState, PastVersion, RowHead, Store } from '../types.js'

export interface Applied {
  /** Ops that became the row of their key, in order. */
  changed: Op[]
  /** New state of every origin touched (already written to the store). */
  states: Map<string, OriginState>
  /** Ops under murmur's reserved keys that were applied (attestations). */
  records: Op[]
  /** `(origin, seq)` of every extra version applied. */
  equivocations: Array<{ origin: string, seq: number }>
  /** Every mark a held prefix passed through, in order, per origin (so recent marks need not be recomputed). */
  marks: Map<string, Mark[]>
  /** Past versions found to have lost to a write that had not seen them. */
  conflicts: PastVersion[]
}

/**
 * Applies `ops` (in the order given) on top of `origins`. `superseded(op)`
 * says an op that would create its key is known to have lost to an op this
 * node once held and has since collected (a sync witness). `rows`: the
 * rows of the ops' user keys, read for this batch already (`readRows`).
 */
export function applyOps (store: Store, origins: ReadonlyMap<string, OriginState>, ops: Op[], bound: HistoryBound, superseded: (op: Op) => boolean = () => false, local = false, rows?: Map<string, RowHead>): Applied {
  const history = new KeyHistory(store, bound, local)
  const result: Applied = { changed: [], states: new Map(), records: [], equivocations: [], marks: new Map(), conflicts: history.conflicts }
  // looked up per op, not copied per call: a copy cost O(origins) on every message received
  const floors = { get: (origin: string): number | undefined => origins.get(origin)?.floor.seq }
  const stateOf = (origin: string): OriginState => {
    let state = result.states.get(origin)
    if (state === undefined) {
      const known = origins.get(origin) ?? freshOrigin()
      result.states.set(origin, (state = { held: { ...known.held }, floor: { ...known.floor } }))
    }
    return state
  }
  const heads = new Rows(store, ops, rows, !local)
  for (const op of ops) {
    const state = stateOf(op.origin)
    const digest = digestOf(op)
    if (op.seq === state.held.seq + 1) {
      state.held = { seq: op.seq, wall: op.wall, logical: op.logical, acc: xorInto(state.held.acc, digest) }
      const passed = result.marks.get(op.origin)
      if (passed === undefined) result.marks.set(op.origin, [state.held])
      else passed.push(state.held)
    } else if (op.seq <= state.held.seq && op.seq > versionsAbove(state)) {
      state.held = { ...state.held, acc: xorInto(state.held.acc, digest) }
      if (op.seq === state.held.seq && compareStamps(op, state.held) < 0) state.held = { ...state.held, wall: op.wall, logical: op.logical }
      // a version of the held seq at the floor (known.ts): the floor's mark is of what this node holds there
      if (op.seq === state.floor.seq) state.floor = { ...state.held }
      result.equivocations.push({ origin: op.origin, seq: op.seq })
    } else {
      throw new Error(`bug: op ${op.origin}/${op.seq} applied out of order (held ${state.held.seq}, floor ${state.floor.seq})`)
    }
    place(store, heads, floors, op, digest, superseded, result, history)
  }
  for (const [origin, state] of result.states) store.setOrigin(origin, state)
  return result
}

/**
 * The rows of the user keys of a batch of `count` writes, read in one query;
 * for a batch too small to gain from that, undefined (its rows are read one
 * by one as it is applied), or with `few` (a local write, which reads them
 * anyway for what each write saw) read one by one now, for both. A key's
 * JSON form reaches SQLite as text: murmur's own keys (a leading U+0000) are
 * always read one by one.
 */
export function readRows (store: Store, count: number, writes: Array<{ key: string }>, few = false): Map<string, RowHead> | undefined {
  if (count < 16 && !few) return undefined
  const keys = [...new Set(writes.filter(write => !isReserved(write.key)).map(write => write.key))]
  if (count >= 16) return store.rowsAt(keys)
  const heads = new Map<string, RowHead>()
  for (const key of keys) {
    const row = store.row(key)
    if (row !== undefined) heads.set(key, headOf(row))
  }
  return heads
}

/**
 * The head of the current row of each key `ops` touch: read in one go for a
 * batch of user keys, kept as ops become rows; and of those, the keys with no
 * past versions yet, until this batch keeps one; and the keys with neither a
 * row nor a past version (new to this node), until an op of them is placed.
 */
class Rows {
  private readonly known?: Map<string, RowHead>
  private readonly pastless = new Set<string>()
  private readonly fresh = new Set<string>()

  /** `findFresh`: tell new keys (a query; a local write gains nothing from it: its ops never lose, and one that saw nothing of its key has nothing to mark or trim). */
  constructor (private readonly store: Store, ops: Op[], known = readRows(store, ops.length, ops), findFresh = true) {
    this.known = known
    if (known === undefined) return
    for (const [key, head] of known) if (head.pastless === true) this.pastless.add(key)
    if (!findFresh) return
    const rowless = [...new Set(ops.filter(op => !isReserved(op.key) && !known.has(op.key)).map(op => op.key))]
    const withPast = store.past.withPast(rowless)
    for (const key of rowless) if (!withPast.has(key)) this.fresh.add(key)
  }

  /** `key` has neither a row nor a past version here: nothing to mark, compare or trim. */
  isFresh (key: string): boolean {
    return this.fresh.has(key)
  }

  get (key: string): Head | undefined {
    if (this.known !== undefined && !isReserved(key)) return this.known.get(key)
    const row = this.store.row(key)
    return row === undefined ? undefined : headOf(row)
  }

  /** The current row of `key` when its key has no past versions (`RowHead.pastless`). */
  alone (key: string): (RowHead & { asPast: Op }) | undefined {
    const head = this.pastless.has(key) ? this.known?.get(key) : undefined
    return head?.asPast === undefined ? undefined : head as RowHead & { asPast: Op }
  }

  /** A past version of `key` was kept. */
  kept (key: string): void {
    this.pastless.delete(key)
    this.fresh.delete(key)
  }

  became (op: Op): void {
    this.pastless.delete(op.key)
    this.fresh.delete(op.key)
    if (!isReserved(op.key)) this.known?.set(op.key, headOf(op))
  }
}

function place (store: Store, rows: Rows, floors: Pick<ReadonlyMap<string, number>, 'get'>, op: Op, digest: Uint8Array, superseded: (op: Op) => boolean, result: Applied, history: KeyHistory): void {
  const current = rows.get(op.key)
  const alone = rows.alone(op.key)
  const fresh = rows.isFresh(op.key)
  if (current === undefined ? superseded(op) : !beats(op, current, () => store.row(op.key))) {
    if (op.seq > (floors.get(op.origin) ?? 0)) store.addHistory(op, digest)
    history.lost(op, digest, current, alone !== undefined || fresh)
    rows.kept(op.key)
    return
  }
  // a key with no past versions yet: its row becomes the only one, and no query finds what else to mark or trim;
  // a key new here (no row either) has nothing at all to mark or trim
  let done = false
  const found = history.conflicts.length
  if (current !== undefined) {
    if (alone !== undefined) done = history.replacedAlone(op, alone)
    else history.replaced(current)
    // a row every member holds (at or below its origin's floor) is collected as it loses, not kept in history
    if (current.seq <= (floors.get(current.origin) ?? 0)) store.remove(current, true)
    else store.supersede(current)
  }
  store.put(op, digest)
  if (!done && !fresh) history.won(op, found)
  rows.became(op)
  if (isReserved(op.key)) result.records.push(op)
  else result.changed.push(op)
}
