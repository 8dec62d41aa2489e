import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { InvalidBase64Error, InvalidJsonError, decodeValue, encodeTypedValue, encodeValue, methods, parseJson } from '../src/index.js'

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

  it('parseJson says where JSON stops parsing, on every Node version', () => {
    for (const [text, position] of [['[1,,2]', 3], ['{"a":', 5], ['{"a" 1}', 5], ['123x', 3], ['', 0], ['{"a":"xx', 8], ['[1, 2, }', 7]] as const) {
      assert.throws(() => parseJson(text), (err: unknown) => err instanceof InvalidJsonError && err.position === position && err.message.startsWith(`not valid JSON at position ${position}: `), text)
    }
    fc.assert(fc.property(fc.string(), text => {
      try {
        assert.deepEqual(parseJson(text), JSON.parse(text))
      } catch (err) {
        assert.ok(err instanceof InvalidJsonError && err.position >= 0 && err.position <= text.length, String(err))
      }
    }))
  })

  it('a json value travels as JSON, binary always as base64, text as before', () => {
    assert.deepEqual(encodeTypedValue(Buffer.from('{"a":[1]}'), 'json'), { value: { a: [1] }, type: 'json' })
    assert.deepEqual(encodeTypedValue(Buffer.from('{"a":[1]}'), 'json', 'base64'), { value: 'eyJhIjpbMV19', encoding: 'base64', type: 'json' })
    assert.deepEqual(encodeTypedValue(Buffer.from('{"a":'), 'json'), { value: 'eyJhIjo=', encoding: 'base64', type: 'json' }, 'json a peer signed that does not parse')
    const deep = Buffer.from('['.repeat(5000) + ']'.repeat(5000))
    assert.deepEqual(encodeTypedValue(deep, 'json'), { value: deep.toString('base64'), encoding: 'base64', type: 'json' }, 'json too deep for JSON.stringify')
    assert.deepEqual(encodeTypedValue(Buffer.from('['.repeat(1000) + ']'.repeat(1000)), 'json').encoding, undefined)
    assert.deepEqual(encodeTypedValue(Buffer.from('hi'), 'binary'), { value: 'aGk=', encoding: 'base64', type: 'binary' })
    assert.deepEqual(encodeTypedValue(Buffer.from('hi'), 'text'), { value: 'hi', type: 'text' })
  })

  it('kv_put takes any JSON with type json, and a string otherwise', () => {
    const ok = (params: unknown): boolean => methods.kv_put.safeParse(params).success
    assert.ok(ok({ key: 'k', value: { a: 1 }, type: 'json' }))
    assert.ok(ok({ key: 'k', value: null, type: 'json' }))
    assert.ok(ok({ key: 'k', value: 'v', ifVersion: { origin: 'o', seq: 1 } }))
    assert.ok(ok({ key: 'k', value: 'v', ifAbsent: true }))
    assert.ok(!ok({ key: 'k', value: { a: 1 } }))
    assert.ok(!ok({ key: 'k', type: 'json' }))
    assert.ok(!ok({ key: 'k', value: 1, type: 'json', encoding: 'utf8' }))
    assert.ok(!ok({ key: 'k', value: 'v', ifVersion: { origin: 'o', seq: 0 } }))
    assert.ok(!ok({ key: 'k', value: 'v', ifVersion: { origin: 'o', seq: 1 }, ifAbsent: true }))
    assert.ok(!ok({ key: 'k', value: 'v', ifVersion: { origin: 'o', seq: 1, extra: 1 } }))
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
