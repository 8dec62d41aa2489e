import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { MAX_BATCH_BYTES, MAX_BATCH_OPS, opDigest, decodeOps, encodeOps, OpCodecError, proofPayload, proofProblem, proofSize, proveOps, signingPayload, type Op } from '../src/index.js'
import { op } from './helpers.js'

const opArb: fc.Arbitrary<Op> = fc.record({
  key: fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }),
  value: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
  wall: fc.oneof(fc.nat(), fc.maxSafeNat()),
  logical: fc.oneof(fc.nat(), fc.maxSafeNat()),
  origin: fc.constantFrom('12D3KooWA', '12D3KooWB', 'é-origin', 'x'.repeat(128)),
  seq: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constant(Number.MAX_SAFE_INTEGER)),
  type: fc.constantFrom(undefined, 'json' as const, 'binary' as const)
}).map(({ type, ...fields }) => ({ ...fields, ...(type !== undefined && fields.value !== null ? { type } : {}) })) // fc.record makes null-prototype objects; decoded ops are plain

/** Asserts `fn` throws an `OpCodecError` whose message matches `pattern`. */
function rejects (fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof OpCodecError && pattern.test(err.message))
}

function decodesOrRejects (bytes: Uint8Array): void {
  try {
    for (const decoded of decodeOps(bytes)) assert.ok(decoded.key.length > 0 && decoded.seq >= 1)
  } catch (err) {
    if (!(err instanceof OpCodecError)) throw err
  }
}

/** `n` as an unsigned LEB128 varint. */
function varint (n: number): number[] {
  const out: number[] = []
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80)
  out.push(n)
  return out
}

describe('op codec', () => {
  it('round-trips any batch', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 20 }), ops => {
      assert.deepEqual(decodeOps(encodeOps(ops)), ops)
    }), { numRuns: 500 })
  })

  it('keeps a leading byte-order mark in a key', () => {
    assert.equal(decodeOps(encodeOps([op('\uFEFFkey', 'v')]))[0]?.key, '\uFEFFkey')
  })

  it('copies values out of the input buffer', () => {
    const bytes = encodeOps([op('k', 'value')])
    const [decoded] = decodeOps(bytes)
    bytes.fill(0)
    assert.equal(Buffer.from(decoded?.value ?? []).toString(), 'value')
    assert.notEqual(decoded?.value?.buffer, bytes.buffer)
  })

  it('names each origin once, so a batch costs little more than its keys and values', () => {
    const ops = Array.from({ length: 1000 }, (_, i) => op(`key-${String(i).padStart(6, '0')}`, 'v'.repeat(100), {
      wall: 1_760_000_000_000 + i, logical: i % 3, origin: '12D3KooWGzh9kKfVJ8Zi6gE1kUPRTtWhqZPS3ut5AQuyKc2rbSmx', seq: i + 1
    }))
    const raw = 1000 * (10 + 100)
    const size = encodeOps(ops).length
    assert.ok(size < 1.3 * raw, `${size} bytes for ${raw} raw`)
  })

  it('encodes an empty batch', () => {
    assert.deepEqual(decodeOps(encodeOps([])), [])
  })

  describe('fuzzing', () => {
    it('rejects random bytes with OpCodecError only', () => {
      // Half start with the valid version byte, so the decoder gets past the first check.
      const noise = fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 64 })).map(([v1, rest]) => v1 ? Uint8Array.of(2, ...rest) : rest)
      fc.assert(fc.property(noise, decodesOrRejects), { numRuns: 10_000 })
    })

    it('rejects mutated encodings with OpCodecError only', () => {
      const mutation = fc.tuple(fc.array(opArb, { minLength: 1, maxLength: 4 }), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), fc.nat())
      fc.assert(fc.property(mutation, ([ops, edits, cut]) => {
        const bytes = encodeOps(ops)
        for (const [at, value] of edits) bytes[at % bytes.length] = value
        decodesOrRejects(bytes.subarray(0, bytes.length - (cut % 3)))
      }), { numRuns: 10_000 })
    })
  })

  describe('rejects', () => {
    const valid = encodeOps([op('key', 'value')])

    it('an unknown format version', () => {
      rejects(() => decodeOps(Uint8Array.of(1, 0, 0)), /unknown format version 1/)
    })

    it('empty input', () => {
      rejects(() => decodeOps(new Uint8Array()), /truncated: format version/)
    })

    it('truncated input', () => {
      for (let length = 1; length < valid.length; length++) rejects(() => decodeOps(valid.subarray(0, length)), /truncated/)
    })

    it('trailing bytes', () => {
      rejects(() => decodeOps(Uint8Array.of(...valid, 0)), /1 trailing bytes/)
    })

    it('a key over the limit', () => {
      rejects(() => decodeOps(encodeOps([op('k'.repeat(1025), 'v')])), /op 0 key is 1025 bytes, limit is 1024/)
      rejects(() => decodeOps(encodeOps([op('kkk', 'v')]), { maxKeyBytes: 2 }), /op 0 key is 3 bytes, limit is 2/)
    })

    it('a value over the limit', () => {
      const value = 'v'.repeat(1024 * 1024 + 1)
      rejects(() => decodeOps(encodeOps([op('k', value)])), /op 0 value is 1048577 bytes, limit is 1048576/)
      rejects(() => decodeOps(encodeOps([op('k', 'vvv')]), { maxValueBytes: 2 }), /op 0 value is 3 bytes/)
    })

    it('more ops than allowed', () => {
      rejects(() => decodeOps(encodeOps([op('a', 'v'), op('b', 'v')]), { maxOps: 1 }), /batch has 2 ops, limit is 1/)
    })

    it('a key that is not UTF-8', () => {
      // version, 1 origin "o", no proofs, 1 op: flags 1 (tombstone), key of 1 byte 0xFF, wall 0, logical 0, origin 0, seq 1
      rejects(() => decodeOps(Uint8Array.of(2, 1, 1, 0x6f, 0, 1, 1, 1, 0xff, 0, 0, 0, 1)), /op 0 key is not valid UTF-8/)
    })

    it('an empty key, an empty origin, seq 0 and a bad origin index', () => {
      rejects(() => decodeOps(Uint8Array.of(2, 1, 1, 0x6f, 0, 1, 1, 0, 0, 0, 0, 1)), /op 0 key is empty/)
      rejects(() => decodeOps(Uint8Array.of(2, 1, 0, 0)), /origin 0 is empty/)
      rejects(() => decodeOps(Uint8Array.of(2, 1, 1, 0x6f, 0, 1, 1, 1, 0x6b, 0, 0, 0, 0)), /op 0 seq is 0/)
      rejects(() => decodeOps(Uint8Array.of(2, 1, 1, 0x6f, 0, 1, 1, 1, 0x6b, 0, 0, 1, 1)), /op 0 origin index is out of range/)
    })

    it('unknown flags', () => {
      rejects(() => decodeOps(Uint8Array.of(2, 1, 1, 0x6f, 0, 1, 0x80)), /op 0 has unknown flags 0x80/)
    })

    it('an origin over 128 bytes', () => {
      rejects(() => decodeOps(Uint8Array.of(2, 1, 129, 1, ...new Uint8Array(129).fill(0x6f), 0)), /origin 0 is 129 bytes, limit is 128/)
    })

    it('varints above 2^53 - 1, overlong or non-minimal', () => {
      rejects(() => decodeOps(Uint8Array.of(2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10)), /origin count is above 2\^53 - 1/)
      rejects(() => decodeOps(Uint8Array.of(2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0)), /longer than 8 bytes/)
      rejects(() => decodeOps(Uint8Array.of(2, 0x80, 0)), /origin count is a non-minimal varint/)
    })
  })

  describe('refuses to encode', () => {
    it('ops that would not decode to themselves', () => {
      rejects(() => encodeOps([op('', 'v')]), /key "" is empty/)
      rejects(() => encodeOps([op('\uD800', 'v')]), /not well-formed/)
      rejects(() => encodeOps([op('k', 'v', { origin: '' })]), /origin "" is empty/)
      rejects(() => encodeOps([op('k', 'v', { origin: 'o'.repeat(129) })]), /origin is 129 bytes/)
      rejects(() => encodeOps([op('k', 'v', { seq: 0 })]), /seq 0 is below 1/)
      rejects(() => encodeOps([op('k', 'v', { wall: 2 ** 53 })]), /not a safe non-negative integer/)
      rejects(() => encodeOps([op('k', 'v', { logical: -1 })]), /not a safe non-negative integer/)
      rejects(() => encodeOps([op('k', 'v', { wall: 1.5 })]), /not a safe non-negative integer/)
    })
  })
})

describe('batch proofs', () => {
  // a stand-in signature that a test can check: SHA-512 of the payload (64 bytes, like Ed25519)
  const sign = (payload: Uint8Array): Uint8Array => createHash('sha512').update(payload).digest()
  const verifies = (op: Op): boolean => op.proof != null && proofProblem(op) === undefined &&
    Buffer.compare(sign(proofPayload(op.origin, op.proof.first, op.proof.digests)), op.proof.sig) === 0
  const hex = (bytes: Uint8Array | undefined): string | undefined => bytes == null ? undefined : Buffer.from(bytes).toString('hex')
  const norm = (ops: Op[]): object[] => ops.map(o => ({ ...o, value: hex(o.value ?? undefined), proof: o.proof == null ? undefined : { first: o.proof.first, sig: hex(o.proof.sig), digests: hex(o.proof.digests) } }))
  const batch = (count: number, first = 1): Op[] => {
    const ops = Array.from({ length: count }, (_, i) => op(`k${i}`, `value ${i}`, { origin: 'o', seq: first + i, wall: 100 + i }))
    proveOps(ops, sign)
    return ops
  }

  it('a whole batch travels with one signature and no digests', () => {
    const ops = batch(100)
    assert.equal(new Set(ops.map(o => o.proof)).size, 1, 'one proof for the batch')
    const encoded = encodeOps(ops)
    const bare = encodeOps(ops.map(({ proof, ...rest }) => rest))
    assert.ok(encoded.length <= bare.length + 64 + 10 + 100 * 2, `${encoded.length} bytes, ${bare.length} without the proof`)
    const decoded = decodeOps(encoded)
    assert.deepEqual(norm(decoded), norm(ops))
    assert.equal(new Set(decoded.map(o => o.proof)).size, 1, 'decoded ops share one proof object')
    assert.ok(decoded.every(verifies))
  })

  it('any subset of a batch carries the digests of the rest and still verifies', () => {
    const ops = batch(10)
    const subset = [ops[7], ops[2]] as Op[]
    const decoded = decodeOps(encodeOps(subset))
    assert.deepEqual(norm(decoded), norm(subset))
    assert.ok(decoded.every(verifies))
  })

  it('an altered op no longer matches what was signed', () => {
    const [first, second] = batch(2)
    const altered = { ...second as Op, value: Buffer.from('changed') }
    const decoded = decodeOps(encodeOps([first as Op, altered]))
    assert.equal(decoded.some(verifies), false, 'the altered op changes the batch digests, so neither op verifies')
  })

  it('splits large writes into batches by count and bytes', () => {
    const ops = batch(MAX_BATCH_OPS * 2 + 1)
    assert.deepEqual([...new Set(ops.map(o => o.proof))].map(p => p == null ? 0 : proofSize(p)), [MAX_BATCH_OPS, MAX_BATCH_OPS, 1])
    const big = Array.from({ length: 3 }, (_, i) => op(`big${i}`, 'x'.repeat(MAX_BATCH_BYTES / 2), { origin: 'o', seq: i + 1 }))
    proveOps(big, sign)
    assert.deepEqual([...new Set(big.map(o => o.proof))].map(p => p == null ? 0 : proofSize(p)), [1, 1, 1])
    assert.ok([...ops, ...big].every(verifies))
  })

  it('hashes exactly the signing payload, whatever the op', () => {
    const anyOp = fc.tuple(opArb, fc.option(fc.uint8Array({ minLength: 4000, maxLength: 9000 }), { nil: undefined }))
      .map(([o, big]) => big == null ? o : { ...o, value: big })
    fc.assert(fc.property(anyOp, o => {
      assert.deepEqual(Buffer.from(opDigest(o)), createHash('sha256').update(signingPayload(o)).digest())
    }), { numRuns: 2_000 })
    rejects(() => opDigest(op('\uD800', 'v')), /not well-formed/)
  })

  it('keeps the proof out of the signed payload', () => {
    const [signed] = batch(1) as [Op]
    assert.deepEqual(signingPayload(signed), signingPayload({ ...signed, proof: undefined }))
    assert.notDeepEqual(signingPayload(signed), signingPayload({ ...signed, value: new Uint8Array([1, 3]) }))
  })

  it('rejects proofs that do not account for every digest exactly once', () => {
    // version 2, origins ["o"], one proof of `count` ops from seq 1 (sig [9]) with `given` digests, then one op of seq `seq`
    // (its key `keyBytes` long)
    const message = (count: number, given: Array<[number, number]>, ops: number[], keyBytes = 1): Uint8Array => Uint8Array.from([
      2, 1, 1, 0x6f,
      1, 0, 1, count, 1, 9, given.length, ...given.flatMap(([slot, fill]) => [slot, ...new Array(32).fill(fill)]),
      ops.length, ...ops.flatMap(seq => [2, keyBytes, ...new Array(keyBytes).fill(0x6b), 1, 0x76, 5, 0, 0, seq, 0])
    ])
    assert.equal(decodeOps(message(2, [[1, 7]], [1])).length, 1, 'well formed')
    rejects(() => decodeOps(message(2, [], [1], 8)), /proof 0 lacks the digest of seq 2/)
    rejects(() => decodeOps(message(2, [], [1])), /proof 0 covers 2 ops and gives 0 digests: the 2 ops the proofs leave to this batch cannot fit in its 11 remaining bytes/)
    rejects(() => decodeOps(message(2, [[0, 7], [1, 7]], [1])), /op 0 seq 1 is already in its proof/)
    rejects(() => decodeOps(message(2, [[1, 7], [1, 7]], [1])), /gives digest 1 twice/)
    rejects(() => decodeOps(message(2, [[1, 7]], [3])), /op 0 seq 3 is outside its proof/)
    rejects(() => decodeOps(message(2, [[0, 7], [1, 7]], [])), /proof 0 covers no op/)
    rejects(() => decodeOps(message(0, [], [1])), /covers 0 ops, limit is 1 to 1024/)
    rejects(() => decodeOps(message(2, [[5, 7]], [1])), /digest index 5 is out of range/)
    rejects(() => decodeOps(message(2, [[1, 7]], [1, 1])), /seq 1 is already in its proof/)
  })

  it('refuses proofs whose slots the batch cannot fill before it makes them', () => {
    // a proof is 7 bytes (origin 0, first seq 1, 1,024 ops, a 1-byte sig, no digests) and makes 33 KiB of slots: a 1.5 MiB
    // gossip message of them made ~8.6 GB before the batch was found to hold no ops for them
    const proof = [0, 1, 0x80, 0x08, 1, 9, 0]
    const bomb = (proofs: number): Uint8Array => Uint8Array.from([2, 1, 1, 0x6f, ...varint(proofs), ...new Array(proofs).fill(proof).flat(), 0])
    rejects(() => decodeOps(bomb(200_000)), /200000 proofs, each covering an op, in a batch of 1400001 more bytes/)
    rejects(() => decodeOps(bomb(1)), /proof 0 covers 1024 ops and gives 0 digests: the 1024 ops the proofs leave to this batch cannot fit in its 1 remaining bytes/)
    // 1,024 ops' worth of bytes after the proof: its slots are made, and the batch is refused for what it holds
    const padded = Uint8Array.from([...bomb(1).subarray(0, -1), ...new Array(1024 * 8).fill(0)])
    rejects(() => decodeOps(padded), /trailing bytes|op 0/)
  })
})
