/**
 * What murmurd's bundle gives @chainsafe/libp2p-noise in place of
 * @chainsafe/as-chacha20poly1305 and @chainsafe/as-sha256 (scripts/bundle.mjs):
 * the same calls on node:crypto. Those two are WebAssembly, instantiated when
 * noise is imported, for messages under 1,200 bytes (noise seals larger ones
 * with node:crypto already). Compiling and running them (V8's WebAssembly
 * compilers paged in, the modules' memories) cost three idle murmurd ~2 MB of
 * RSS each (72 → 70 MB); a bare Node process that loads both and seals 100
 * small messages grows by ~9 MB. The library build (dist/src) keeps noise as
 * it is.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto'

const ALGORITHM = 'chacha20-poly1305'
const TAG_BYTES = 16

/** as-chacha20poly1305's WebAssembly instance: nothing to make here. */
export function newInstance (): undefined {
  return undefined
}

/** as-chacha20poly1305's AEAD: `seal` returns ciphertext and tag; `open` returns null when the tag does not match. */
export class ChaCha20Poly1305 {
  seal (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, associatedData?: Uint8Array, dst?: Uint8Array): Uint8Array {
    const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES })
    if (associatedData != null) cipher.setAAD(associatedData, { plaintextLength: plaintext.byteLength })
    const body = cipher.update(plaintext)
    cipher.final() // a stream cipher: final adds no bytes
    const out = into(dst, plaintext.byteLength + TAG_BYTES)
    out.set(body, 0)
    out.set(cipher.getAuthTag(), plaintext.byteLength)
    return out
  }

  open (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, associatedData?: Uint8Array, dst?: Uint8Array): Uint8Array | null {
    const length = sealed.byteLength - TAG_BYTES
    const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES })
    if (associatedData != null) decipher.setAAD(associatedData, { plaintextLength: length })
    decipher.setAuthTag(sealed.subarray(length))
    const body = decipher.update(sealed.subarray(0, length))
    try {
      decipher.final()
    } catch {
      return null // the tag does not match: as-chacha20poly1305 says so with null, noise then throws
    }
    const out = into(dst, length)
    out.set(body, 0)
    return out
  }
}

/** as-sha256's one-shot digest. */
export function digest (data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest()
}

function into (dst: Uint8Array | undefined, length: number): Uint8Array {
  if (dst == null) return new Uint8Array(length)
  if (dst.byteLength !== length) throw new Error('ChaCha20Poly1305: incorrect destination length')
  return dst
}
