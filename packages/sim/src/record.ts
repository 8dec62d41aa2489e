/**
 * What a run saw, for the checks at its end: every op that exists in the
 * group, every acknowledged write, every failure, and a trace of the run's
 * last events for a failure report.
 */
import { compareStamps, digestOf, type Change, type Op, type Version } from '@murmur/core'

export interface AckedWrite {
  node: string
  key: string
  value: string | null
  version: Version
  /** A keepalive's refresh (`Op.refresh`): kept in no history. */
  refresh?: true
}

const TRACE_LINES = 400

export class Recorder {
  /**
   * Ops that exist in the group: an honest node's once they are on disk (only
   * then may they leave it), and any op once it became the row of its key at
   * an honest node (the hostile one's included).
   */
  readonly ops = new Map<string, Op>()
  readonly acked: AckedWrite[] = []
  readonly failures: string[] = []
  readonly counts = {
    writes: 0,
    writesFailed: 0,
    deletes: 0,
    expiring: 0,
    /** Writes acknowledged as keepalive refreshes (`Op.refresh`). */
    refreshes: 0,
    crashes: 0,
    partitions: 0,
    clockJumps: 0,
    diskFull: 0,
    hostileActs: 0,
    refused: 0,
    equivocations: 0,
    snapshots: 0,
    snapshotsOvertaken: 0,
    /** Pulls that asked a member again for an origin's ops its attestation disagreed on, to the end. */
    rechecks: 0,
    /** Pulls ended as stale (the server sent only ops held already); starts refused by a full disk. */
    staleEnds: 0,
    startsFailed: 0,
    reissued: 0,
    /** Of those, values older than a delete of their key an honest node acknowledged: a deleted value back. */
    reissuedOverDeletes: 0,
    /** The hostile member's values so written again (allowed: see `reissue`). */
    hostileOverDeletes: 0,
    tombstonesCollected: 0,
    maxWaitingBytes: 0,
    /** Own ops signed as they left (`Scenario.signLater`), and the sends whose proof covered several commits. */
    signedLater: 0,
    sharedProofs: 0,
    /** Sends whose proofs went to disk with an fsync begun by another (a commit's), not one of their own. */
    rodeProofs: 0,
    /** Own ops a crash left acknowledged but unsigned, signed as their node started again. */
    signedAtStart: 0,
    /** Ops taken from a peer that a crash lost before an fsync covered them, held by no node that counted them yet. */
    takenThenLost: 0,
    /** Of the ops refused, those refused for order: stamped before their origin's op of the seq before, as held. */
    refusedForOrder: 0
  }

  private readonly trace: string[] = []
  private traceStart = 0
  now = (): number => 0

  exists (op: Op): void {
    this.ops.set(opKey(op), stripped(op))
  }

  /** Whether `op` (origin, seq and digest) counts as existing. */
  has (op: Op): boolean {
    return this.ops.has(opKey(op))
  }

  /** Ops a replica refused (`Received.refused`), counted in all and for order. */
  refusals (refused: ReadonlyArray<{ kind: string }>): void {
    this.counts.refused += refused.length
    this.counts.refusedForOrder += refused.filter(refusal => refusal.kind === 'order').length
  }

  /** An op taken from a peer was lost in a crash before an fsync covered it: counted when it exists nowhere yet. */
  lostBeforeFsync (op: Op): void {
    if (!this.has(op)) this.counts.takenThenLost++
  }

  /**
   * An honest node writes `again` (`Replica.rewrites`) over `rows`, the rows
   * they are made from: counts them, and those that bring back an honest
   * node's value (written by one of `honest`) that an honest delete of its key
   * (acknowledged by one of `honest`) is newer than. The hostile member's
   * value brought back so is its documented power (README, Security: a
   * second version withheld until deletes stamped after it were collected
   * comes back over them, as if the member had written it again, which it
   * may; hostile seed 39560).
   */
  reissue (again: Change[], rows: Array<Op | undefined>, honest: string[]): void {
    this.counts.reissued += again.length
    again.forEach((change, i) => {
      const row = rows[i]
      if (change.value === null || row === undefined) return
      if (!this.acked.some(w => w.key === change.key && w.value === null && honest.includes(w.node) && compareStamps(w.version, row) > 0)) return
      if (honest.includes(row.origin)) this.counts.reissuedOverDeletes++
      else this.counts.hostileOverDeletes++
    })
  }

  fail (message: string): void {
    if (this.failures.length < 20) this.failures.push(message)
    this.log(`FAIL ${message}`)
  }

  log (line: string): void {
    this.trace.push(`${(this.now() / 1000).toFixed(3).padStart(9)}s ${line}`)
    if (this.trace.length > TRACE_LINES * 2) {
      this.traceStart += this.trace.length - TRACE_LINES
      this.trace.splice(0, this.trace.length - TRACE_LINES)
    }
  }

  /** The last events, oldest first. */
  lines (): string[] {
    return this.trace.slice(-TRACE_LINES)
  }
}

/** An op as data, without its batch's digests; the signature stays: it breaks ties between two ops of one version. */
export function stripped (op: Op): Op {
  const plain: Op = { key: op.key, value: op.value === null ? null : Buffer.from(op.value), wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq }
  if (op.expires !== undefined) plain.expires = op.expires
  if (op.seen !== undefined) plain.seen = op.seen
  if (op.refresh === true) plain.refresh = true
  if (op.proof != null) plain.proof = { sig: op.proof.sig, first: op.seq, digests: new Uint8Array(0) }
  return plain
}

export function describeOp (op: Op): string {
  return `${op.key}=${op.value === null ? '∅' : Buffer.from(op.value).toString().slice(0, 12)} @${op.origin}:${op.seq} (${op.wall}.${op.logical})${op.expires !== undefined ? ` ⌛${op.expires}` : ''}`
}

/** An op's identity among versions: origin, seq and digest. */
export function opKey (op: Op): string {
  return `${op.origin}\n${op.seq}\n${Buffer.from(digestOf(op)).toString('hex')}`
}
