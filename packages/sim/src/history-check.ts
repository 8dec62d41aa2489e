/**
 * The history checks at the end of a run: every honest replica that holds
 * every op of the group as it arrived (none caught up from a snapshot, which
 * carries current rows only, and none had a row changed behind its back)
 * reports the same past versions of each key, with the same ones marked as
 * conflicts; and every acknowledged write is the current row of its key or
 * one of those past versions (the run's bound keeps every version), but a
 * keepalive's refresh, which no history keeps; and on every replica, no op
 * is both its key's row and a past version.
 */
import { digestOf, isReserved, type Op } from '@murmur/core'
import { describeOp, opKey, type Recorder } from './record.js'
import type { SimNode } from './node.js'

/** Large enough that a run never trims a version. */
export const SIM_HISTORY = { historyVersions: 1_000_000, historyBytes: 2 ** 40 }

export function checkHistory (nodes: SimNode[], record: Recorder, hostile?: string): void {
  const keys = new Set<string>()
  for (const op of record.ops.values()) if (!isReserved(op.key)) keys.add(op.key)
  const theirs = hostile === undefined ? [] : hostileOps(nodes, record, keys, hostile)
  const whole = nodes.filter(node => !node.historyIncomplete && (hostile === undefined || !lacksBelowFloor(node, theirs, hostile)))
  // the versions compared: every op that exists, the hostile member's that lost on arrival (no row changed, so not
  // in `record`) included: one such version held by one replica and not another is a difference like any other
  const hostileKeys = new Set(theirs.map(opKey))
  const compared = (op: Op): boolean => record.has(op) || hostileKeys.has(opKey(op))
  const reports = new Map<SimNode, Map<string, string[]>>()
  for (const node of whole) {
    const report = new Map<string, string[]>()
    for (const key of keys) {
      report.set(key, node.replica.history(key, Number.MAX_SAFE_INTEGER).filter(past => compared(past.op))
        .map(past => `${describeOp(past.op)}${past.conflict !== undefined ? ' conflict' : ''}`))
    }
    reports.set(node, report)
  }
  const [first, ...rest] = whole
  for (const node of rest) {
    for (const key of keys) {
      const mine = reports.get(node)?.get(key) ?? []
      const theirs = reports.get(first as SimNode)?.get(key) ?? []
      if (mine.join('\n') !== theirs.join('\n')) {
        // from the first version they differ on (a conflict mark deep in a long history showed nothing in the first four)
        let at = 0
        while (mine[at] === theirs[at]) at++
        record.fail(`history of ${key} differs from its version ${at + 1} on (of ${mine.length} and ${theirs.length}): ${node.id} reports [${mine.slice(at, at + 4).join(', ')}], ${first?.id} [${theirs.slice(at, at + 4).join(', ')}]`)
      }
    }
  }
  // an op is its key's row or one of its past versions, never both (core's own-proof mending counts on it); an
  // equivocator's second version of the same seq is another op (another digest), and may well be in history
  for (const node of nodes) {
    for (const key of keys) {
      const row = node.replica.store.row(key)
      if (row === undefined) continue
      const digest = Buffer.from(digestOf(row))
      if (node.replica.history(key, Number.MAX_SAFE_INTEGER).some(past => past.op.origin === row.origin && past.op.seq === row.seq && digest.equals(digestOf(past.op)))) {
        record.fail(`${node.id}: ${describeOp(row)} is both the row of ${key} and one of its past versions`)
      }
    }
  }
  for (const node of whole) {
    for (const write of record.acked) {
      // a refresh is kept in no history (`Op.refresh`): once replaced, it is gone by design
      if (write.refresh === true) continue
      const row = node.replica.store.row(write.key)
      const same = (op: Op): boolean => op.origin === write.version.origin && op.seq === write.version.seq
      if (row !== undefined && same(row)) continue
      if (node.replica.history(write.key, Number.MAX_SAFE_INTEGER).some(past => same(past.op))) continue
      record.fail(`${node.id}: acknowledged write ${write.key}=${write.value} (${write.node}:${write.version.seq}) is neither the current value nor in history`)
    }
  }
}

/**
 * The hostile member's ops of `keys` (the user keys of ops that exist): those an honest node took as they came (`Recorder.exists`), and
 * those an honest replica holds, as a row or a past version. An op that lost on arrival changed no row and is not
 * recorded as taken, but it is in history, and what its `seen` says labels the versions it beat there (hostile seed
 * 47132: a second version shown to one node after the other had collected past its seq).
 */
function hostileOps (nodes: SimNode[], record: Recorder, keys: ReadonlySet<string>, hostile: string): Op[] {
  const found = new Map<string, Op>()
  const add = (op: Op): void => {
    if (op.origin === hostile && !isReserved(op.key)) found.set(opKey(op), op)
  }
  for (const op of record.ops.values()) add(op)
  // the keys of every op that exists: a hostile op held only in history is of one of them
  for (const node of nodes) {
    for (const key of keys) {
      const row = node.replica.store.row(key)
      if (row !== undefined) add(row)
      for (const past of node.replica.history(key, Number.MAX_SAFE_INTEGER)) add(past.op)
    }
  }
  return [...found.values()]
}

/**
 * Whether `node` lacks an op of the hostile member's that exists, at or below its floor for it: it collected past
 * that seq before the op reached it (a second version of the seq: it held another), so it never takes it, and the
 * versions that op beat are no conflicts there where they are on the replicas that hold it. The README's Security
 * section lists this as a member's power (a second version shown only after some members collected past it; hostile
 * seeds 19863, 45542, 47132): such a replica's history is not compared. Only the hostile member's ops are looked at: a replica
 * lacking an honest op below its floor still has its history compared.
 */
function lacksBelowFloor (node: SimNode, ops: Op[], hostile: string): boolean {
  const floor = node.replica.origin(hostile)?.floor.seq ?? 0
  return ops.some(op => {
    if (op.seq > floor) return false
    const digest = Buffer.from(digestOf(op))
    const same = (held: Op): boolean => held.origin === op.origin && held.seq === op.seq && digest.equals(digestOf(held))
    const row = node.replica.store.row(op.key)
    return !(row !== undefined && same(row)) && !node.replica.history(op.key, Number.MAX_SAFE_INTEGER).some(past => same(past.op))
  })
}
