/**
 * The verifier's parsed keys: a peer that sends ops of thousands of fresh
 * origins must not make the origins in use parse their keys again and again
 * (each parse is a peer ID decode and a key import, on every batch of theirs
 * after the bound was passed). In-process: signatures and keys are real.
 */
import assert from 'node:assert/strict'
import type { KeyObject } from 'node:crypto'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { RecentKeys, batchSigner, batchVerifier } from '../src/op-signing.js'

/** A RecentKeys that counts the keys it had to make, per origin. */
class Counting<V> extends RecentKeys<V> {
  readonly made = new Map<string, number>()

  override get (origin: string, make: (origin: string) => V): V {
    return super.get(origin, o => {
      this.made.set(o, (this.made.get(o) ?? 0) + 1)
      return make(o)
    })
  }
}

async function writer (group: string): Promise<{ origin: string, sign: (payload: Uint8Array) => Uint8Array }> {
  const key = await generateKeyPair('Ed25519')
  return { origin: peerIdFromPrivateKey(key).toString(), sign: batchSigner(key, group) }
}

describe('op signing', () => {
  it('keeps the keys used last: a bound passed drops the least recently used, not every key', () => {
    const keys = new Counting<string>(3)
    const make = (origin: string): string => `key of ${origin}`
    for (const origin of ['a', 'b', 'c']) keys.get(origin, make)
    assert.equal(keys.get('a', make), 'key of a')
    keys.get('d', make) // past the bound: b, the least recently used, goes
    assert.equal(keys.size, 3)
    keys.get('a', make)
    keys.get('c', make)
    keys.get('d', make)
    assert.deepEqual(Object.fromEntries(keys.made), { a: 1, b: 1, c: 1, d: 1 })
    keys.get('b', make)
    assert.equal(keys.made.get('b'), 2)
  })

  it('an origin in use keeps its parsed key while a flood of fresh origins passes the bound many times', async () => {
    const group = 'default'
    const honest = await writer(group)
    const keys = new Counting<KeyObject | null>(16)
    const verify = batchVerifier(group, keys)
    const payload = new Uint8Array([1, 2, 3])
    const good = honest.sign(payload)
    assert.equal(verify(honest.origin, payload, good), true)
    // 64 fresh origins (4 times the bound), the honest origin's batches between them
    for (let i = 0; i < 64; i++) {
      const fresh = await writer(group)
      assert.equal(verify(fresh.origin, payload, fresh.sign(payload)), true)
      assert.equal(verify(honest.origin, payload, good), true)
    }
    assert.equal(keys.made.get(honest.origin), 1, 'the honest origin\'s key was parsed again')
    assert.equal(keys.size, 16)
    // still a real check: another origin's signature, a changed payload, a name that is no peer ID
    const other = await writer(group)
    assert.equal(verify(honest.origin, payload, other.sign(payload)), false)
    assert.equal(verify(honest.origin, new Uint8Array([1, 2, 4]), good), false)
    assert.equal(verify('not-a-peer-id', payload, good), false)
  })
})
