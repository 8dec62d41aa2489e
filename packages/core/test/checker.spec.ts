/**
 * The op checker verifies each signed batch once, even when it arrives in
 * several messages (each decoded into proof objects of its own), and never
 * takes a batch whose bytes differ from the one it verified under that
 * signature.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { OpChecker, decodeOps, encodeOps, opDigest, proveOps, type Op } from '../src/index.js'
import { op } from './helpers.js'

const sign = (payload: Uint8Array): Uint8Array => createHash('sha512').update(payload).digest()

describe('op checker', () => {
  it('verifies a batch once across messages, and refuses other bytes under its signature', () => {
    let verified = 0
    const checker = new OpChecker({
      verify: (origin, payload, sig) => {
        verified++
        return Buffer.compare(Buffer.from(sign(payload)), Buffer.from(sig)) === 0 && origin === 'o'
      }
    })
    const ops = Array.from({ length: 10 }, (_, i) => op(`k${i}`, `v${i}`, { origin: 'o', seq: i + 1, wall: 100 + i }))
    proveOps(ops, sign)
    // two frames, each with part of the batch: each decodes to a proof object of its own
    const first = decodeOps(encodeOps(ops.slice(0, 4)))
    const second = decodeOps(encodeOps(ops.slice(4)))
    assert.notEqual(first[0]?.proof, second[0]?.proof)
    for (const o of [...first, ...second]) assert.equal(checker.problem(o), undefined)
    assert.equal(verified, 1, 'one signature check for the batch')
    // the same signature over other digests (an op altered, its digest put in the batch) is checked again, and refused
    const altered: Op = { ...(second[0] as Op), value: Buffer.from('forged'), proof: undefined }
    const proof = ops[0]!.proof!
    const digests = Buffer.concat([proof.digests.subarray(0, 32 * 4), opDigest(altered), proof.digests.subarray(32 * 5)])
    const forged: Op = { ...altered, proof: { sig: proof.sig, first: proof.first, digests } }
    assert.equal(checker.problem(forged)?.reason, 'bad signature')
    assert.equal(verified, 2, 'other bytes under a known signature are verified, not taken from the cache')
  })
})
