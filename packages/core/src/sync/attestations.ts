/**
 * The attestations a pull that takes a snapshot is sent (serve.ts: every
 * member's, before the rows), each checked as it comes and kept until the
 * rows begin. A member that offers a snapshot can sign attestations of its
 * own without end (hostile-memory.spec: 294 MiB of them grew the puller's
 * RSS by 1.3 GiB), so they are kept within a byte budget. Dropping one could
 * raise a floor that its member attested lower, so past the budget the pull
 * ends instead, having taken nothing of the snapshot: the next asks again.
 */
import { digestOf } from '../marks.js'
import { sizeOf } from '../replica/pending.js'
import type { Refusal } from '../replica/checker.js'
import type { Op } from '../types.js'

/** Bytes of attestations one snapshot may bring: a member's is ~100 bytes an origin, so 64 MiB is ~650 members of 1,000 origins. */
export const ATTESTATION_BUDGET = 64 * 1024 * 1024

export class SnapshotAttestations {
  /** Each one taken, in arrival order. */
  readonly ops: Op[] = []
  /** Each one taken, as origin, seq and digest. */
  private readonly taken = new Set<string>()
  private bytes = 0

  /** Past `ATTESTATION_BUDGET`: the pull must end. */
  get over (): boolean {
    return this.bytes > ATTESTATION_BUDGET
  }

  /** Takes the valid ones of `ops` (`check` says why not); how many are new to this pull (a server may send one again, to look busy). */
  add (ops: Op[], check: (op: Op) => Refusal | undefined, refused: Refusal[]): number {
    let fresh = 0
    for (const op of ops) {
      const refusal = check(op)
      if (refusal != null) { refused.push(refusal); continue }
      const id = `${op.origin}\n${op.seq}\n${Buffer.from(digestOf(op)).toString('hex')}`
      if (this.taken.has(id)) continue
      this.taken.add(id)
      this.ops.push(op)
      this.bytes += sizeOf(op)
      fresh++
    }
    return fresh
  }
}
