/**
 * Every op is signed by its origin's identity key, so any node may relay it
 * (gossip forwards it, sync serves it from storage) and every receiver can
 * still check who wrote it and that nothing changed on the way. One signature
 * covers a batch of ops (core's `proveOps`: the digests of every op of a
 * group commit); the signed bytes are the batch's `proofPayload` behind a
 * domain string naming the group, so ops cannot be replayed into another
 * group. Core's replica decides what to check when; these are its keys.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { VerifyBatch } from '@murmur/core'
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

/**
 * Checks a batch signature against the public key inside its origin's peer
 * ID (node:crypto: ~65 µs a batch). Keys are parsed once per origin.
 */
export function batchVerifier (group: string): VerifyBatch {
  const prefix = domain(group)
  const keys = new Map<string, KeyObject | null>()
  const publicKey = (origin: string): KeyObject | null => {
    let key = keys.get(origin)
    if (key === undefined) {
      key = null
      try {
        const parsed = peerIdFromString(origin).publicKey
        if (parsed?.type === 'Ed25519') key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(parsed.raw) }, format: 'jwk' })
      } catch {}
      if (keys.size > 10_000) keys.clear()
      keys.set(origin, key)
    }
    return key
  }
  return (origin, payload, sig) => {
    const key = publicKey(origin)
    return key != null && verify(null, Buffer.concat([prefix, payload]), key, sig)
  }
}
