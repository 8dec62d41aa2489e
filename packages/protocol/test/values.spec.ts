import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { InvalidBase64Error, decodeValue, encodeValue, methods } from '../src/index.js'

describe('values and params', () => {
  it('round-trips any bytes, as text when they are UTF-8 and as base64 otherwise', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), bytes => {
      const wire = encodeValue(bytes)
      assert.deepEqual(new Uint8Array(decodeValue(wire.value, wire.encoding)), bytes)
      const utf8 = Buffer.from(bytes).toString('utf8')
      assert.equal(wire.encoding === undefined, Buffer.from(utf8, 'utf8').equals(Buffer.from(bytes)))
    }))
    assert.deepEqual(encodeValue(Buffer.from('héllo')), { value: 'héllo' })
    assert.deepEqual(encodeValue(Buffer.from('hi'), 'base64'), { value: 'aGk=', encoding: 'base64' })
  })

  it('rejects malformed base64 instead of guessing', () => {
    for (const bad of ['***', 'aGk', 'a=b=', 'aGk=\n']) assert.throws(() => decodeValue(bad, 'base64'), InvalidBase64Error, bad)
  })

  it('validates keys: non-empty, well-formed UTF-8, at most 1 KiB', () => {
    const ok = (key: string): boolean => methods.kv_get.safeParse({ key }).success
    assert.equal(ok('a'), true)
    assert.equal(ok('k'.repeat(1024)), true)
    assert.equal(ok('€'.repeat(341)), true)
    assert.equal(ok(''), false)
    assert.equal(ok('k'.repeat(1025)), false)
    assert.equal(ok('€'.repeat(342)), false)
    assert.equal(ok('\udc00'), false)
    assert.equal(methods.kv_get.safeParse({ key: 'a', extra: true }).success, false, 'unknown params are refused')
  })
})
