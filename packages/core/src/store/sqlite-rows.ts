/** Conversions between the store's SQLite rows and ops. */
import { compareUtf8 } from '../compare.js'
import { USER_KEYS_FROM } from '../keys.js'
import { opDigest } from '../proof.js'
import type { HeadRow, HistoryRow, Row, StagedRow, Statements, VectorRow } from './sqlite-schema.js'
import type { Head, HeldOp, RowHead, Op, OpProof, OriginState, RowOptions, Seen, ValueType } from '../types.js'

const NO_DIGESTS = new Uint8Array(0)

/** Rows in key order, as `Store.rows` describes. */
export function listRows (sql: Statements, options: RowOptions): Op[] {
  const { prefix = '', after, limit = -1 } = options
  let from = prefix
  let exclusive = false
  if (after !== undefined && compareUtf8(after, prefix) >= 0) {
    from = after
    exclusive = true
  }
  if (options.reserved !== true && compareUtf8(from, USER_KEYS_FROM) < 0) {
    from = USER_KEYS_FROM
    exclusive = false
  }
  const params = { prefix, from, limit, tombstones: options.tombstones === true ? 1 : 0, now: options.liveAt ?? Number.MIN_SAFE_INTEGER }
  const rows = (exclusive ? sql.listAfter : sql.listFrom).all(params)
  if (options.proofs === true) {
    const proofs = options.proofCache ?? new Map<string, OpProof | null>()
    return rows.map(row => withProof(sql, row, proofs))
  }
  return rows.map(row => ranked(row))
}

/** A row as an op with its proof; ops of one batch share one proof object (read once per call). */
export function withProof (sql: Statements, row: Row, proofs: Map<string, OpProof | null>): HeldOp {
  const op: HeldOp = fromRow(row)
  if ((row as Partial<HistoryRow>).digest !== undefined) op.superseded = true
  if (row.sig === null) return op
  const id = Buffer.from(row.sig.buffer, row.sig.byteOffset, row.sig.length).toString('base64')
  let proof = proofs.get(id)
  if (proof === undefined) {
    const batch = sql.batch.get(row.sig)
    proofs.set(id, (proof = batch == null ? null : { sig: row.sig, first: batch.first, digests: batch.digests }))
  }
  // no row: a one-op batch, whose only digest is its own
  op.proof = proof ?? { sig: row.sig, first: row.seq, digests: (row as Partial<HistoryRow>).digest ?? opDigest(op) }
  return op
}

/** Rows and history of one origin (each in seq order) merged in seq order, a row first where they share one; each read only as far as it is taken. */
export function * merged (rows: Iterator<Row>, history: Iterator<Row>): Generator<Row> {
  let a = rows.next()
  let b = history.next()
  while (a.done !== true || b.done !== true) {
    if (b.done === true || (a.done !== true && a.value.seq <= b.value.seq)) {
      yield a.value
      a = rows.next()
    } else {
      yield b.value
      b = history.next()
    }
  }
}

export function fromRow (row: Row): Op {
  const op: Op = { key: row.key, value: row.value, wall: row.wall, logical: row.logical, origin: row.origin, seq: row.seq }
  // text is the absence of a type, so a text op compares equal to one written before types existed
  if (row.type !== 'text' && row.value !== null) op.type = row.type
  if (row.expires !== null) op.expires = row.expires
  const seen = seenOf(row)
  if (seen !== undefined) op.seen = seen
  if (row.refresh === 1) op.refresh = true
  return op
}

/** A row's `seen_*` columns as `Op.seen`. */
export function seenOf (row: Pick<Row, 'seen_wall' | 'seen_logical' | 'seen_origin'>): Seen | undefined {
  return row.seen_origin === null ? undefined : { wall: row.seen_wall ?? 0, logical: row.seen_logical ?? 0, origin: row.seen_origin }
}

/** `Op.seen` as a row's columns. */
export function seenColumns (seen: Seen | undefined): Pick<Row, 'seen_wall' | 'seen_logical' | 'seen_origin'> {
  return { seen_wall: seen?.wall ?? null, seen_logical: seen?.logical ?? null, seen_origin: seen?.origin ?? null }
}

/** Stages `ops` as `snapshot_stage` rows, each keeping its batch's signature; the batch's proof goes in `snapshot_batch` once. */
export function stageOps (sql: Statements, ops: Op[]): void {
  const batches = new Set<OpProof>()
  for (const op of ops) {
    // a batch's digests once (up to 255 × 32 bytes), not with each of its rows
    if (op.proof != null && !batches.has(op.proof)) {
      batches.add(op.proof)
      sql.stageBatch.run(op.proof.sig, op.proof.first, op.proof.digests)
    }
    sql.stage.run({ ...toRow(op), first: null, digests: null })
  }
}

/** Proofs of staged batches read lately, per file: a snapshot's pages, in key order, each hold rows of most of its batches. */
const stagedProofs = new WeakMap<Statements, Map<string, OpProof>>()
const STAGED_PROOFS = 4096

/** Forgets the staged batches' proofs read (the stage was cleared). */
export function forgetStaged (sql: Statements): void {
  stagedProofs.delete(sql)
}

/** Staged rows as the ops they were, whole proofs included: the rows of one batch share its proof. */
export function stagedOps (sql: Statements, rows: StagedRow[]): Op[] {
  let proofs = stagedProofs.get(sql)
  if (proofs === undefined) stagedProofs.set(sql, (proofs = new Map()))
  const known = proofs
  return rows.map(row => {
    const op = fromRow(row)
    if (row.sig === null) return op
    if (row.first !== null && row.digests !== null) {
      op.proof = { sig: row.sig, first: row.first, digests: row.digests }
      return op
    }
    const id = Buffer.from(row.sig).toString('base64')
    let proof = known.get(id)
    if (proof === undefined) {
      const batch = sql.stagedBatch.get(row.sig)
      if (batch === undefined) throw new Error(`bug: staged row ${JSON.stringify(row.key)} without its batch`)
      proof = { sig: row.sig, first: batch.first, digests: batch.digests }
      known.set(id, proof)
      if (known.size > STAGED_PROOFS) known.delete(known.keys().next().value as string)
    }
    op.proof = proof
    return op
  })
}

/** A row as an op whose proof carries only the signature: enough to rank it and to release its batch. */
export function ranked (row: Row): Op {
  const op = fromRow(row)
  if (row.sig !== null) op.proof = { sig: row.sig, first: row.seq, digests: NO_DIGESTS }
  return op
}

export function toRow (op: Op): Row {
  return { key: op.key, value: op.value, wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq, sig: op.proof?.sig ?? null, type: op.type ?? 'text', expires: op.expires ?? null, ...seenColumns(op.seen), refresh: op.refresh === true ? 1 : null }
}

/** An op's columns in `OP_COLUMNS` order (key … refresh), then its digest: the positional parameters of `put` and `addHistory`. */
export type OpParams = [string, Uint8Array | null, number, number, string, number, Uint8Array | null, ValueType, number | null, number | null, number | null, string | null, number | null, Uint8Array]

/** `op`'s `OpParams` (positional: binding fourteen named parameters cost ~1.5 µs more per op). */
export function opParams (op: Op, digest: Uint8Array): OpParams {
  const seen = op.seen
  return [op.key, op.value, op.wall, op.logical, op.origin, op.seq, op.proof?.sig ?? null, op.type ?? 'text', op.expires ?? null, seen?.wall ?? null, seen?.logical ?? null, seen?.origin ?? null, op.refresh === true ? 1 : null, digest]
}

/** A `Store.rowsAt` row as a head. */
export function headOfRow (row: HeadRow): RowHead {
  const [key, value, type, wall, logical, origin, seq, sig, seenWall, seenLogical, seenOrigin, refresh, pastless] = row
  const head: RowHead = { key, wall, logical, origin, seq, live: value !== null, sig, pastless: pastless === 1, bytes: value?.length ?? 0 }
  const seen = seenOrigin === null ? undefined : { wall: seenWall ?? 0, logical: seenLogical ?? 0, origin: seenOrigin }
  if (seen !== undefined) head.seen = seen
  if (refresh === 1) head.refresh = true
  if (pastless === 1) {
    // as key_history keeps it: no proof, no expiry
    const past: Op = { key, value, wall, logical, origin, seq }
    if (type !== 'text' && value !== null) past.type = type
    if (seen !== undefined) past.seen = seen
    if (refresh === 1) past.refresh = true
    head.asPast = past
  }
  return head
}

/** A `version_vector` row as an origin's state, and back. */
export function originOfRow (row: VectorRow): OriginState {
  return {
    held: { seq: row.seq, wall: row.wall, logical: row.logical, acc: row.acc },
    floor: { seq: row.floor, wall: row.floor_wall, logical: row.floor_logical, acc: row.floor_acc }
  }
}

export function vectorRowOf (origin: string, { held, floor }: OriginState): VectorRow {
  return { origin, seq: held.seq, wall: held.wall, logical: held.logical, acc: held.acc, floor: floor.seq, floor_wall: floor.wall, floor_logical: floor.logical, floor_acc: floor.acc }
}
