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

/** Origins whose parsed keys a verifier keeps (~1 KB each). */
export const KEPT_KEYS = 10_000

/**
 * Values by origin, the least recently used dropped past `max`: a peer that
 * sends ops of thousands of fresh origins (each must be checked once, as any
 * new op) costs the origins in use at most one parse again each, where
 * dropping them all at the bound made every honest origin's next batch parse
 * its key again, every time the bound was passed.
 */
export class RecentKeys<V> {
  private readonly kept = new Map<string, V>()

  constructor (private readonly max = KEPT_KEYS) {}

  get size (): number {
    return this.kept.size
  }

  /** The value for `origin`, made by `make` if it is not kept; kept as the most recently used. */
  get (origin: string, make: (origin: string) => V): V {
    const kept = this.kept.get(origin)
    if (kept !== undefined || this.kept.has(origin)) {
      this.kept.delete(origin)
      this.kept.set(origin, kept as V)
      return kept as V
    }
    const made = make(origin)
    if (this.kept.size >= this.max) this.kept.delete(this.kept.keys().next().value as string)
    this.kept.set(origin, made)
    return made
  }
}

/** `origin`'s Ed25519 public key, from its peer ID; null when it names none. */
function parseKey (origin: string): KeyObject | null {
  try {
    const parsed = peerIdFromString(origin).publicKey
    if (parsed?.type === 'Ed25519') return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(parsed.raw) }, format: 'jwk' })
  } catch {}
  return null
}

/**
 * Checks a batch signature against the public key inside its origin's peer
 * ID (node:crypto: ~65 µs a batch). Keys are parsed once per origin while
 * it is among the `KEPT_KEYS` used last.
 */
export function batchVerifier (group: string, keys = new RecentKeys<KeyObject | null>()): VerifyBatch {
  const prefix = domain(group)
  return (origin, payload, sig) => {
    const key = keys.get(origin, parseKey)
    return key != null && verify(null, Buffer.concat([prefix, payload]), key, sig)
  }
}
