/**
 * Fuzzing the sync frame decoder: valid frames decode to what was encoded;
 * arbitrary bytes and mutated frames give a frame or a SyncProtocolError,
 * nothing else; hostile control messages pollute nothing.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { SyncProtocolError, decodeFrame, encodeFrame, proveOps, type Control, type Frame, type Op } from '../src/index.js'

const RUNS = 10_000
const MAX_VALUE_BYTES = 1024 * 1024

const origin = fc.constantFrom('12D3KooWA', '12D3KooWGzh9kKfVJ8Zi6gE1kUPRTtWhqZPS3ut5AQuyKc2rbSmx', 'bafz')
const vector = fc.dictionary(origin, fc.nat(), { maxKeys: 3 }).map(v => ({ ...v }))
const runs = fc.array(fc.tuple(fc.nat(1000), fc.nat(1000)).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as [number, number]), { maxLength: 3 })
const control: fc.Arbitrary<Control> = fc.oneof(
  fc.record({
    t: fc.constant('hello' as const),
    group: fc.string({ maxLength: 10 }),
    name: fc.string({ maxLength: 10 }),
    now: fc.nat(),
    vector,
    skip: fc.option(fc.dictionary(origin, runs, { maxKeys: 2 }).map(v => ({ ...v })), { nil: undefined }),
    recheck: fc.option(vector, { nil: undefined }),
    snapshot: fc.option(fc.boolean(), { nil: undefined }),
    horizon: fc.option(fc.tuple(fc.nat(), fc.nat()), { nil: undefined }),
    rows: fc.option(fc.constant(false as const), { nil: undefined })
  }, { requiredKeys: ['t', 'group', 'name', 'now', 'vector'] }),
  fc.record({ t: fc.constant('reject' as const), reason: fc.string({ maxLength: 30 }) }),
  fc.constant({ t: 'done' as const })
).map(message => JSON.parse(JSON.stringify(message)) as Control)
const op: fc.Arbitrary<Op> = fc.record({
  key: fc.string({ minLength: 1, maxLength: 10 }),
  value: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null }),
  wall: fc.nat(),
  logical: fc.nat(),
  origin,
  seq: fc.integer({ min: 1, max: 1000 })
}).map(fields => ({ ...fields }))
/** Ops as a frame carries them: unsigned, or one origin's batch (consecutive seqs) under one proof, of which the frame may carry a subset. */
const ops: fc.Arbitrary<Op[]> = fc.oneof(
  fc.array(op, { maxLength: 4 }),
  fc.tuple(fc.array(op, { minLength: 1, maxLength: 6 }), fc.uint8Array({ minLength: 1, maxLength: 128 }), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }))
    .map(([batch, sig, keep]) => {
      const proved = batch.map((o, i) => ({ ...o, origin: batch[0]?.origin ?? o.origin, seq: (batch[0]?.seq ?? 1) + i }))
      proveOps(proved, () => sig)
      const kept = proved.filter((_, i) => keep[i] === true)
      return kept.length > 0 ? kept : proved
    })
)
const kind = fc.constantFrom('ops' as const, 'witness' as const, 'import' as const, 'attest' as const)
const frame: fc.Arbitrary<Frame> = fc.oneof(
  control.map(message => ({ kind: 'control' as const, message })),
  fc.tuple(kind, ops).map(([k, o]) => ({ kind: k, ops: o }))
)

/** decodeFrame returns a frame or throws SyncProtocolError; anything else fails the property. */
function decodesOrRejects (bytes: Uint8Array): void {
  try {
    const decoded = decodeFrame(bytes, { maxValueBytes: MAX_VALUE_BYTES })
    assert.ok(['control', 'ops', 'witness', 'import', 'attest'].includes(decoded.kind))
  } catch (err) {
    if (!(err instanceof SyncProtocolError)) throw err
  }
}

const anyJson = fc.jsonValue()

describe('fuzzing the sync frame decoder', () => {
  it(`decodes ${RUNS} valid frames to what was encoded`, () => {
    fc.assert(fc.property(frame, f => {
      const decoded = decodeFrame(encodeFrame(f), { maxValueBytes: MAX_VALUE_BYTES })
      if (f.kind === 'control') assert.deepEqual(decoded, f)
      else assert.deepEqual(decoded.kind === 'control' ? decoded : { kind: decoded.kind, ops: decoded.ops.map(o => ({ ...o })) }, { kind: f.kind, ops: f.ops.map(o => ({ ...o })) })
    }), { numRuns: RUNS, includeErrorInReport: true })
  })

  it(`gives a frame or SyncProtocolError for ${RUNS} random byte strings`, () => {
    const tag = fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0xff)
    const body = fc.oneof(fc.uint8Array({ maxLength: 64 }), anyJson.map(v => new Uint8Array(Buffer.from(JSON.stringify(v) ?? ''))), fc.string().map(s => new Uint8Array(Buffer.from(s))))
    fc.assert(fc.property(fc.option(tag, { nil: undefined }), body, (first, rest) => {
      decodesOrRejects(first == null ? rest : Uint8Array.of(first, ...rest))
    }), { numRuns: RUNS, includeErrorInReport: true })
  })

  it(`gives a frame or SyncProtocolError for ${RUNS} mutated valid frames`, () => {
    const edits = fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 4 })
    fc.assert(fc.property(frame.map(encodeFrame), edits, fc.nat(), (valid, changes, cut) => {
      const bytes = [...valid]
      for (const [at, value, how] of changes) {
        const i = at % (bytes.length + 1)
        if (how === 'set' && i < bytes.length) bytes[i] = value
        else if (how === 'insert') bytes.splice(i, 0, value)
        else bytes.splice(i, 1)
      }
      decodesOrRejects(Uint8Array.from(bytes.slice(0, bytes.length - (cut % 4))))
    }), { numRuns: RUNS, includeErrorInReport: true })
  })

  it('rejects hostile control messages, and prototype keys pollute nothing', () => {
    const decode = (text: string): Frame =>
      decodeFrame(new Uint8Array(Buffer.concat([Buffer.of(0x01), Buffer.from(text)])), { maxValueBytes: MAX_VALUE_BYTES })
    for (const text of [
      '['.repeat(100_000) + ']'.repeat(100_000),
      '{"t":"hello","group":"g","name":"n","now":1,"vector":' + '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000) + '}',
      '{"t":"hello","group":"g","name":"n","now":1,"vector":{},"__proto__":{"polluted":1}}',
      '{"t":"hello","group":"g","name":"n","now":1,"vector":{"alice":9007199254740992}}',
      '{"t":"hello","group":"g","name":"n","now":1,"vector":{"alice":-1}}',
      '{"t":"hello","group":"g","name":"n","now":1,"vector":{"__proto__":1}}',
      '{"t":"hello","group":"g","name":"n","now":1,"vector":{},"skip":{"alice":[[5,2]]}}',
      '{"t":"hello","group":"g","name":"n","now":1,"vector":{},"recheck":{"alice":-1}}',
      '{"t":"hello","group":"g","name":"n","now":1,"vector":{},"recheck":[3]}',
      '{"t":"hello","group":"g","name":"n","now":1,"vector":{},"rows":true}',
      '{"t":"hello","group":"g","name":"n","now":1,"vector":{},"rows":0}',
      '{"t":"done","vector":{}}',
      '{"t":"__proto__"}'
    ]) assert.throws(() => decode(text), SyncProtocolError, text.slice(0, 60))
    // an origin named "constructor" is just an own key (core reads vectors with Object.hasOwn)
    const decoded = decode('{"t":"hello","group":"g","name":"n","now":1,"vector":{"constructor":1}}')
    assert.ok(decoded.kind === 'control' && decoded.message.t === 'hello')
    const parsed = decoded.message.vector
    assert.deepEqual(Object.keys(parsed), ['constructor'])
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype)
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
    // a batch of ops past the value limit is refused too
    const big = encodeFrame({ kind: 'ops', ops: [{ key: 'k', value: new Uint8Array(MAX_VALUE_BYTES + 1), wall: 1, logical: 0, origin: '12D3KooWA', seq: 1 }] })
    assert.throws(() => decodeFrame(big, { maxValueBytes: MAX_VALUE_BYTES }), SyncProtocolError)
  })
})
