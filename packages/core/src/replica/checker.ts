/**
 * Whether an op from a peer may be taken at all: its origin may write, it is
 * covered by a batch its origin signed, and a record under murmur's reserved
 * keys is one its origin may write and is well-formed. Signatures are checked
 * once per batch (the ops of a batch share one proof object).
 */
import { decodeAttestation } from '../attestation.js'
import { attestationKey, attestationOwner, isReserved } from '../keys.js'
import { proofPayload, proofProblem } from '../proof.js'
import type { Op, OpProof } from '../types.js'

/** Checks `sig` as `origin`'s signature over `payload` (the signer adds its own domain). */
export type VerifyBatch = (origin: string, payload: Uint8Array, sig: Uint8Array) => boolean

export interface Refusal {
  op: Op
  reason: string
  /** A bad or missing signature (the sender relayed a forgery), as opposed to a policy refusal. */
  forged: boolean
}

export interface CheckerInit {
  /** Without it, ops need no signature (tests, and nodes that trust every peer). */
  verify?: VerifyBatch
  /** Origins allowed to write; any when absent. */
  allowed?: (origin: string) => boolean
}

export class OpChecker {
  private readonly init: CheckerInit
  private readonly good = new WeakMap<OpProof, string>()
  private readonly bad = new WeakSet<OpProof>()
  private readonly checked = new WeakSet<Op>()

  constructor (init: CheckerInit) {
    this.init = init
  }

  /** Why `op` must be refused, or undefined. */
  problem (op: Op): Refusal | undefined {
    if (this.checked.has(op)) return undefined
    if (this.init.allowed?.(op.origin) === false) return { op, reason: 'its origin is not on the allow-list', forged: false }
    const signature = this.signatureProblem(op)
    if (signature != null) return { op, reason: signature, forged: true }
    const record = recordProblem(op)
    if (record != null) return { op, reason: record, forged: false }
    this.checked.add(op)
    return undefined
  }

  private signatureProblem (op: Op): string | undefined {
    const verify = this.init.verify
    if (verify == null) return undefined
    const structural = proofProblem(op)
    if (structural != null) return structural
    const proof = op.proof as OpProof
    if (this.good.get(proof) === op.origin) return undefined
    if (this.bad.has(proof) || this.good.has(proof)) return 'bad signature'
    if (!verify(op.origin, proofPayload(op.origin, proof.first, proof.digests), proof.sig)) {
      this.bad.add(proof)
      return 'bad signature'
    }
    this.good.set(proof, op.origin)
    return undefined
  }
}

/** A reserved key may hold only its owner's well-formed attestation. */
function recordProblem (op: Op): string | undefined {
  if (!isReserved(op.key)) return undefined
  const owner = attestationOwner(op.key)
  if (owner === undefined) return `unknown reserved key ${JSON.stringify(op.key)}`
  if (op.key !== attestationKey(op.origin)) return `an attestation for ${owner} written by ${op.origin}`
  try {
    decodeAttestation(op)
  } catch (err) {
    return (err as Error).message
  }
  return undefined
}
