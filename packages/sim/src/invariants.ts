/**
 * The checks at the end of a run, once faults have stopped and the network
 * has healed: every honest replica holds the same rows and prefixes; each
 * key holds the winner among every op that exists in the group (so every
 * acknowledged write is there or superseded by a higher version, and no
 * deleted value is back unless a newer write brought it); waiting ops kept
 * to their budget, and none left waiting that could apply; in a closed group whose members all stayed within the
 * retention, no honest node had to write anything again; each replica's
 * change cursors (what a resuming watch reads) survived every crash intact;
 * and, at one HLC moment (the latest any replica has reached), every replica
 * shows the same keys: no value past its expiry on any of them, and a winner
 * that expired may be gone (collected) as a winning tombstone may; and
 * replicas agree on each key's history and conflicts (history-check.ts).
 */
import { isNewer, isReserved, kvStoreDigest, type Op, type SqliteStore } from '@murmur/core'
import { checkHistory } from './history-check.js'
import { describeOp, type Recorder } from './record.js'
import type { Scenario } from './scenario.js'
import type { SimNode } from './node.js'

export function check (nodes: SimNode[], record: Recorder, scenario: Scenario): void {
  const [first, ...rest] = nodes
  if (first === undefined) return
  const rowsOf = (node: SimNode): string[] => node.replica.store.rows({ tombstones: true, reserved: true }).map(describeOp)
  const reference = rowsOf(first)
  for (const node of rest) {
    const rows = rowsOf(node)
    if (rows.join('\n') !== reference.join('\n')) {
      const missing = reference.filter(r => !rows.includes(r)).slice(0, 3)
      const extra = rows.filter(r => !reference.includes(r)).slice(0, 3)
      record.fail(`rows differ: ${node.id} lacks [${missing.join(', ')}] and has [${extra.join(', ')}] compared with ${first.id}`)
    }
    // byte for byte too, every column as sqlite3 shows it: nothing local may be a column of kv_store
    if (rows.join('\n') === reference.join('\n') && kvStoreDigest((node.replica.store as SqliteStore).path) !== kvStoreDigest((first.replica.store as SqliteStore).path)) {
      record.fail(`rows differ in their bytes: ${node.id}'s kv_store and ${first.id}'s hold the same ops but not the same columns`)
    }
    if (JSON.stringify(sorted(node.replica.vector())) !== JSON.stringify(sorted(first.replica.vector()))) {
      record.fail(`held prefixes differ: ${node.id} ${JSON.stringify(sorted(node.replica.vector()))} vs ${first.id} ${JSON.stringify(sorted(first.replica.vector()))}`)
    }
  }
  const winners = new Map<string, Op>()
  for (const op of record.ops.values()) {
    if (isReserved(op.key)) continue
    const best = winners.get(op.key)
    if (best === undefined || isNewer(op, best)) winners.set(op.key, op)
  }
  const at = Math.max(...nodes.map(node => node.replica.expiryClock()))
  /** A winner no replica shows at `at`: a delete, or a value that expired by then. */
  const absent = (winner: Op | undefined): boolean => winner !== undefined && (winner.value === null || (winner.expires !== undefined && winner.expires <= at))
  for (const node of nodes) {
    const rows = new Map(node.replica.store.rows({ tombstones: true }).map(op => [op.key, op]))
    for (const [key, winner] of winners) {
      const row = rows.get(key)
      const same = row !== undefined && describeOp(row) === describeOp(winner)
      if (absent(winner) ? row !== undefined && !same : !same) {
        record.fail(`${node.id}: ${key} holds ${row === undefined ? 'nothing' : describeOp(row)}, but the winner of every op that exists is ${describeOp(winner)}`)
      }
    }
    for (const key of rows.keys()) if (!winners.has(key)) record.fail(`${node.id}: ${key} holds ${describeOp(rows.get(key) as Op)}, which no write made`)
  }
  // every acknowledged write is on every replica, or superseded there by a higher version of its key
  for (const node of nodes) {
    for (const write of record.acked) {
      const row = node.replica.store.row(write.key)
      const superseded = row !== undefined ? !isNewer({ ...write.version, value: null }, row) : absent(winners.get(write.key))
      if (!superseded) record.fail(`${node.id}: acknowledged write ${write.key}=${write.value} (${write.node}:${write.version.seq}) is lost`)
    }
  }
  checkExpiry(nodes, winners, at, record)
  for (const node of nodes) checkCursors(node, record)
  for (const node of nodes) checkWaiting(node, scenario, record)
  checkHistory(nodes, record, scenario.hostile)
  if (record.counts.maxWaitingBytes > scenario.config.pendingBytes) record.fail(`waiting ops took ${record.counts.maxWaitingBytes} bytes, over the ${scenario.config.pendingBytes} budget`)
  // (a value written again that no such delete is newer than brings nothing back; nor is the hostile member's value
  // brought back over one a deleted value coming back: a second version it withheld until deletes stamped after it
  // were collected is written again over them, as if it had written it again, which it may (the README's "what a
  // member can still do"; hostile seed 39560))
  if (scenario.closed && scenario.config.retentionMs > scenario.faultsUntil + scenario.settleMs && record.counts.reissuedOverDeletes > 0) {
    record.fail(`${record.counts.reissuedOverDeletes} values written again by honest nodes over a newer delete of their key, in a closed group where no member was evicted: a deleted value came back`)
  }
}

/**
 * No op waits that could apply: none at or below its writer's next seq (every
 * version of it) that the clock allowed over a second ago, when the replica
 * last looked (`release` looks only at origins the clock or a snapshot let
 * go; an op of any other waits for its writer's next op, and one it missed
 * would wait until then, or for ever: a sync brings only ops not held or
 * waiting).
 */
function checkWaiting (node: SimNode, scenario: Scenario, record: Recorder): void {
  const { pending, origins } = node.replica.state
  const allowed = (op: Op): boolean => op.wall <= node.now() + scenario.config.maxSkewMs - 1_000
  for (const origin of pending.origins()) {
    const next = (origins.get(origin)?.held.seq ?? 0) + 1
    for (const seq of pending.seqs(origin)) {
      const versions = pending.at(origin, seq)
      if (seq <= next && versions.length > 0 && versions.every(allowed)) record.fail(`${node.id}: ${describeOp(versions[0] as Op)} waits, though its writer's next seq is ${next} and the clock allows it`)
    }
  }
}

/** At HLC moment `at` every replica shows each key as its winner says: present with its value, or absent once expired or deleted. */
function checkExpiry (nodes: SimNode[], winners: Map<string, Op>, at: number, record: Recorder): void {
  for (const node of nodes) {
    const listed = new Set(node.replica.list({}, at).map(op => op.key))
    for (const [key, winner] of winners) {
      const shown = node.replica.get(key, at)?.value != null ? node.replica.get(key, at) : undefined
      const expected = winner.value !== null && !(winner.expires !== undefined && winner.expires <= at)
      if ((shown !== undefined) !== expected || listed.has(key) !== expected) {
        record.fail(`${node.id}: at ${at} ${key} is ${shown === undefined ? 'absent' : 'shown'} (listed: ${listed.has(key)}), but its winner ${describeOp(winner)} says ${expected ? 'present' : 'absent'}`)
      }
    }
  }
}

/** Mid-run: each value this replica holds is shown (by get and list) exactly while its expiry is ahead of the replica's clock. */
export function checkVisible (node: SimNode, record: Recorder): void {
  const at = node.replica.expiryClock()
  const listed = new Set(node.replica.list({}, at).map(op => op.key))
  for (const row of node.replica.store.rows({ tombstones: true })) {
    if (row.value === null) continue
    const expected = row.expires === undefined || row.expires > at
    if ((node.replica.get(row.key, at)?.value != null) !== expected || listed.has(row.key) !== expected) {
      record.fail(`${node.id}: at ${at} ${describeOp(row)} is ${expected ? 'hidden' : 'shown past its expiry'}`)
    }
  }
}

function sorted (vector: Record<string, number>): Array<[string, number]> {
  return Object.entries(vector).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
}

/**
 * A replica's change cursors, after crashes that cut its WAL back: one entry
 * per key at most, each on a user key that has a row, numbered at or below
 * the latest cursor, in order; and a floor no higher than the latest.
 */
function checkCursors (node: SimNode, record: Recorder): void {
  const { store } = node.replica
  const { latest, floor } = store.changeMarks()
  if (floor > latest) record.fail(`${node.id}: change floor ${floor} is above the latest cursor ${latest}`)
  const changes = store.changes(0, Number.MAX_SAFE_INTEGER)
  const keys = new Set<string>()
  let previous = 0
  for (const { cursor, op } of changes) {
    if (cursor <= previous || cursor > latest) record.fail(`${node.id}: change cursor ${cursor} of ${op.key} is out of order or above the latest (${latest})`)
    if (isReserved(op.key) || keys.has(op.key)) record.fail(`${node.id}: ${op.key} has a change cursor twice, or is murmur's own`)
    keys.add(op.key)
    previous = cursor
  }
}
