/**
 * Every op is signed by its origin's identity key, so any node may relay it
 * (gossip forwards it, sync serves it from storage) and every receiver can
 * still check who wrote it and that nothing changed on the way. One signature
 * covers a batch of ops (core's `proveOps`: the digests of every op of a
 * group commit); the signed bytes are the batch's `proofPayload` behind a
 * domain string naming the group, so ops cannot be replayed into another group.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { proofPayload, proofProblem, type Op, type OpProof } from '@murmur/core'
import type { PrivateKey } from '@libp2p/interface'

function domain (group: string): Buffer {
  return Buffer.from(`murmur/batch/1\0${group}\0`)
}

const base64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url')

/** Signs this node's batches of ops with its Ed25519 identity key (node:crypto: ~25 µs a batch). */
export function batchSigner (privateKey: PrivateKey, group: string): (payload: Uint8Array) => Uint8Array {
  if (privateKey.type !== 'Ed25519') throw new Error(`op signing needs an Ed25519 identity key, not ${privateKey.type}`)
  // libp2p's raw Ed25519 private key is the 32-byte seed followed by the 32-byte public key
  const raw = privateKey.raw
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: base64url(raw.subarray(0, 32)), x: base64url(raw.subarray(32)) }, format: 'jwk' })
  const prefix = domain(group)
  return payload => sign(null, Buffer.concat([prefix, payload]), key)
}

/** Checks ops' batch signatures against the public key inside their origin's peer ID. */
export class OpVerifier {
  private readonly prefix: Buffer
  private readonly keys = new Map<string, KeyObject | null>()
  /** Ops already checked (the gossip validator checks before the apply path sees them). */
  private readonly verified = new WeakSet<Op>()
  /** Proofs whose signature is good, and for whom: the ops of one batch share one proof object, checked once. */
  private readonly good = new WeakMap<OpProof, string>()
  private readonly bad = new WeakSet<OpProof>()

  constructor (group: string) {
    this.prefix = domain(group)
  }

  /** Why `op` must be refused, or undefined when its signature is good. */
  problem (op: Op): string | undefined {
    if (this.verified.has(op)) return undefined
    const problem = proofProblem(op)
    if (problem != null) return problem
    const proof = op.proof as OpProof
    if (this.good.get(proof) !== op.origin) {
      if (this.bad.has(proof) || this.good.has(proof)) return 'bad signature'
      const key = this.publicKey(op.origin)
      if (key == null) return 'origin is not an Ed25519 peer ID'
      if (!verify(null, Buffer.concat([this.prefix, proofPayload(op.origin, proof.first, proof.digests)]), key, proof.sig)) {
        this.bad.add(proof)
        return 'bad signature'
      }
      this.good.set(proof, op.origin)
    }
    this.verified.add(op)
    return undefined
  }

  private publicKey (origin: string): KeyObject | null {
    let key = this.keys.get(origin)
    if (key === undefined) {
      key = null
      try {
        const publicKey = peerIdFromString(origin).publicKey
        if (publicKey?.type === 'Ed25519') key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(publicKey.raw) }, format: 'jwk' })
      } catch {}
      if (this.keys.size > 10_000) this.keys.clear()
      this.keys.set(origin, key)
    }
    return key
  }
}
