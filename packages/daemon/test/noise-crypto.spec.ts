/**
 * noise-crypto.ts stands in for noise's two WebAssembly packages in the
 * bundle: it must seal to the very bytes they do and open what they seal
 * (a murmurd talks to library nodes and older murmurd that still use them),
 * and refuse what they refuse.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { ChaCha20Poly1305 as WasmAead, newInstance } from '@chainsafe/as-chacha20poly1305'
import { digest as wasmDigest } from '@chainsafe/as-sha256'
import { ChaCha20Poly1305, digest } from '../src/noise-crypto.js'

const wasm = new WasmAead(newInstance())
const ours = new ChaCha20Poly1305()
// noise's handshake and transport messages: empty, small, around its 1,200-byte switch, a full frame
const SIZES = [0, 1, 32, 100, 1199, 1200, 4096, 65_519]

describe('noise crypto on node:crypto', () => {
  it('seals to the same bytes as as-chacha20poly1305, and each opens what the other sealed', () => {
    for (const size of SIZES) {
      for (const ad of [undefined, new Uint8Array(0), randomBytes(32)]) {
        const key = randomBytes(32)
        const nonce = randomBytes(12)
        const plain = randomBytes(size)
        const sealed = ours.seal(key, nonce, plain, ad)
        assert.deepEqual(sealed, wasm.seal(key, nonce, plain, ad), `size ${size}`)
        assert.deepEqual(wasm.open(key, nonce, sealed, ad), new Uint8Array(plain))
        assert.deepEqual(ours.open(key, nonce, sealed, ad), new Uint8Array(plain))
      }
    }
  })

  it('opens to null when the tag, the ciphertext, the key or the associated data differ', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(12)
    const ad = randomBytes(32)
    const sealed = ours.seal(key, nonce, randomBytes(100), ad)
    for (const at of [0, 99, 100, 115]) {
      const altered = Uint8Array.from(sealed)
      altered[at] = (altered[at] ?? 0) ^ 1
      assert.equal(ours.open(key, nonce, altered, ad), null, `byte ${at}`)
      assert.equal(wasm.open(key, nonce, altered, ad), null)
    }
    assert.equal(ours.open(randomBytes(32), nonce, sealed, ad), null)
    assert.equal(ours.open(key, nonce, sealed, randomBytes(32)), null)
  })

  it('writes into dst when given one of the right length, and refuses one of another', () => {
    const key = randomBytes(32)
    const nonce = randomBytes(12)
    const plain = randomBytes(50)
    const sealedInto = new Uint8Array(66)
    assert.equal(ours.seal(key, nonce, plain, undefined, sealedInto), sealedInto)
    const openedInto = new Uint8Array(50)
    assert.equal(ours.open(key, nonce, sealedInto, undefined, openedInto), openedInto)
    assert.deepEqual(openedInto, new Uint8Array(plain))
    assert.throws(() => ours.open(key, nonce, sealedInto, undefined, new Uint8Array(49)), /incorrect destination length/)
  })

  it('hashes as as-sha256 does', () => {
    for (const size of [0, 1, 64, 1000]) {
      const data = randomBytes(size)
      assert.deepEqual(new Uint8Array(digest(data)), wasmDigest(data))
    }
  })
})
