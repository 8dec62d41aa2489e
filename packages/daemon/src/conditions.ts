/**
 * Conditional writes: a put or delete that applies only if its key is, at the
 * moment of the commit, as the writer last saw it (`ifVersion`), or absent
 * (`ifAbsent`). The check runs inside the write queue's commit, so it is
 * atomic against this node's replica: nothing changes the key between the
 * check and the write. It says nothing about other nodes: two nodes may each
 * accept a conditional write at once, and the later version wins everywhere.
 */
import { rpcError, type ExpectedVersion, type MurmurRpcError } from '@murmur/protocol'
import type { Op, Version } from '@murmur/core'

export interface Condition {
  /** The key's live value must carry this version (origin and seq; wall and logical when given). */
  ifVersion?: ExpectedVersion
  /** The key must have no live value. */
  ifAbsent?: boolean
}

export function isConditional (condition: Condition | undefined): boolean {
  return condition?.ifVersion !== undefined || condition?.ifAbsent === true
}

/**
 * Why a write to `key` under `condition` must be refused, given the key's
 * current row, or undefined. `touched`: another write of the same commit,
 * before this one, wrote the key (its version is one the writer cannot have
 * seen, so only a plain write may follow it).
 */
export function conditionFailure (key: string, condition: Condition, row: Op | undefined, touched: boolean): MurmurRpcError | undefined {
  if (touched) return failed(key, 'another write to it was committed just before', null)
  const current = row?.value == null ? null : versionOf(row)
  if (condition.ifAbsent === true) return current === null ? undefined : failed(key, 'it exists', current)
  const expected = condition.ifVersion
  if (expected === undefined) return undefined
  if (current === null) return failed(key, 'it does not exist', null)
  const matches = current.origin === expected.origin && current.seq === expected.seq &&
    (expected.wall === undefined || expected.wall === current.wall) && (expected.logical === undefined || expected.logical === current.logical)
  return matches ? undefined : failed(key, `its version is ${current.origin}/${current.seq}, not ${expected.origin}/${expected.seq}`, current)
}

function failed (key: string, why: string, current: Version | null): MurmurRpcError {
  return rpcError('ConditionFailed', `condition failed for ${JSON.stringify(key)}: ${why}`, { key, current })
}

/** An op's version, without the rest of the op. */
export function versionOf (op: Version): Version {
  return { wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq }
}
