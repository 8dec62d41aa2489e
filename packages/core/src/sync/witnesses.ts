/**
 * The witnesses a pull takes (serve.ts: the op each superseded op it is sent
 * lost to), by key, kept until the pull ends. Each is kept as what ranks it
 * (`Witness`): its value (up to a MiB) and the frame it came in are not held
 * meanwhile, for a member may answer with hundreds of MiB of witnesses and
 * hold the stream open (hostile-memory.spec). Past `MAX_WITNESSES` the rest
 * are dropped.
 */
import type { Witness } from '../replica/inbound.js'
import type { Op } from '../types.js'

const MAX_WITNESSES = 100_000

export class Witnesses {
  readonly byKey = new Map<string, Witness[]>()
  private count = 0

  /** Keeps `op` (checked already) as a witness of its key. */
  add (op: Op): void {
    if (this.count++ >= MAX_WITNESSES) return
    const witness: Witness = { wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq, ...(op.proof !== undefined ? { proof: { sig: op.proof.sig.slice() } } : {}) }
    const held = this.byKey.get(op.key)
    if (held === undefined) this.byKey.set(op.key, [witness])
    else held.push(witness)
  }
}
