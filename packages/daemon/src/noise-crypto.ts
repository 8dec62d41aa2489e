/**
 * What murmurd's bundle gives @chainsafe/libp2p-noise in place of
 * @chainsafe/as-sha256 (scripts/bundle.mjs): the same call on node:crypto.
 * as-sha256 is WebAssembly, instantiated when noise is imported, and noise
 * uses it only to hash its handshakes. noise's other WebAssembly package,
 * its AEAD for messages under 1,200 bytes, stays: node:crypto's seals and
 * opens a small message in 7-8 µs against its 3, and every gossip message
 * and ping is one. The library build (dist/src) keeps noise as it is.
 */
import { createHash } from 'node:crypto'

/** as-sha256's one-shot digest. */
export function digest (data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest()
}
