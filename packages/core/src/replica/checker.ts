/**
 * Whether an op from a peer may be taken at all: its origin may write, it is
 * covered by a batch its origin signed, and a record under murmur's reserved
 * keys is one its origin may write and is well-formed. Signatures are checked
 * once per batch: the ops of a batch share one proof object, and a batch
 * seen lately in another message (a catch-up brings it in several frames,
 * its winners again as witnesses) is recognised by its signature and bytes.
 */
import { decodeAttestation } from '../attestation.js'
import { attestationKey, attestationOwner, isReserved } from '../keys.js'
import { sameBytes } from '../marks.js'
import { proofPayload, proofProblem } from '../proof.js'
import type { Op, OpProof } from '../types.js'

/** Checks `sig` as `origin`'s signature over `payload` (the signer adds its own domain). */
export type VerifyBatch = (origin: string, payload: Uint8Array, sig: Uint8Array) => boolean

/**
 * Why an op was refused, in a word: a signature or proof that does not hold
 * (`signature`), an origin off the allow-list (`origin`), a malformed record
 * under the reserved keys (`record`), a stamp too far ahead of this node's
 * clock (`future`), or a stamp not after its origin's previous op (`order`).
 */
export type RefusalKind = 'signature' | 'origin' | 'record' | 'future' | 'order'

export interface Refusal {
  op: Op
  reason: string
  kind: RefusalKind
  /** A bad or missing signature (the sender relayed a forgery), as opposed to a policy refusal. */
  forged: boolean
}

export interface CheckerInit {
  /** Without it, ops need no signature (tests, and nodes that trust every peer). */
  verify?: VerifyBatch
  /** Origins allowed to write; any when absent. */
  allowed?: (origin: string) => boolean
}

/** Verified batches remembered by signature (a batch's digests are at most 8 KiB). */
const RECENT_BATCHES = 1024

export class OpChecker {
  private readonly init: CheckerInit
  private readonly good = new WeakMap<OpProof, string>()
  private readonly bad = new WeakSet<OpProof>()
  /** Batches verified lately, by signature: the same origin, first seq and digests need no second check. */
  private readonly recent = new Map<string, { origin: string, first: number, digests: Uint8Array }>()

  constructor (init: CheckerInit) {
    this.init = init
  }

  /** Why `op` must be refused, or undefined. */
  problem (op: Op): Refusal | undefined {
    if (this.init.allowed?.(op.origin) === false) return { op, reason: 'its origin is not on the allow-list', kind: 'origin', forged: false }
    const signature = this.signatureProblem(op)
    if (signature != null) return { op, reason: signature, kind: 'signature', forged: true }
    const record = recordProblem(op)
    if (record != null) return { op, reason: record, kind: 'record', forged: false }
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
    const key = Buffer.from(proof.sig).toString('base64')
    const seen = this.recent.get(key)
    if (seen === undefined || seen.origin !== op.origin || seen.first !== proof.first || !sameBytes(seen.digests, proof.digests)) {
      if (!verify(op.origin, proofPayload(op.origin, proof.first, proof.digests), proof.sig)) {
        this.bad.add(proof)
        return 'bad signature'
      }
      this.recent.delete(key)
      this.recent.set(key, { origin: op.origin, first: proof.first, digests: proof.digests.slice() })
      if (this.recent.size > RECENT_BATCHES) this.recent.delete(this.recent.keys().next().value as string)
    }
    this.good.set(proof, op.origin)
    return undefined
  }
}

/** A reserved key may hold only its owner's well-formed attestation, which never expires. */
function recordProblem (op: Op): string | undefined {
  if (!isReserved(op.key)) return undefined
  const owner = attestationOwner(op.key)
  if (owner === undefined) return `unknown reserved key ${JSON.stringify(op.key)}`
  if (op.key !== attestationKey(op.origin)) return `an attestation for ${owner} written by ${op.origin}`
  // collection counts on attestations; one that expired would be collected like a tombstone
  if (op.expires !== undefined) return 'an attestation with an expiry'
  try {
    decodeAttestation(op)
  } catch (err) {
    return (err as Error).message
  }
  return undefined
}
