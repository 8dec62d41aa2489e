/**
 * noise-crypto.ts stands in for noise's as-sha256 in the bundle: the
 * handshake hash must be the very bytes as-sha256 gives (a murmurd talks to
 * library nodes and older murmurd that still use it).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { digest as wasmDigest } from '@chainsafe/as-sha256'
import { digest } from '../src/noise-crypto.js'

describe('noise\'s handshake hash on node:crypto', () => {
  it('hashes as as-sha256 does', () => {
    for (const size of [0, 1, 32, 55, 56, 64, 1000, 65_519]) {
      const data = randomBytes(size)
      assert.deepEqual(new Uint8Array(digest(data)), wasmDigest(data), `size ${size}`)
    }
  })
})
