import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { JsonText, compactJson, exactValue, jsonPutValue, prettyJson, stringifyExact } from '../src/index.js'

describe('json text', () => {
  it('compactJson drops only the whitespace between tokens', () => {
    fc.assert(fc.property(fc.jsonValue(), value => {
      const text = JSON.stringify(value)
      assert.equal(compactJson(JSON.stringify(value, null, 2)), text)
      assert.equal(compactJson(text), text)
    }))
    // whitespace and punctuation inside strings stay; numbers and escapes as written
    assert.equal(compactJson(' { "a b" : [ 1e400 , -0,\t1.50 ] ,\r\n"c" : "x \\" , {y}\\u00e9" } '), '{"a b":[1e400,-0,1.50],"c":"x \\" , {y}\\u00e9"}')
  })

  it('jsonPutValue sends JSON only when it gives the same text', () => {
    assert.deepEqual(jsonPutValue('{"a":1}', { a: 1 }), { value: { a: 1 }, type: 'json' })
    assert.deepEqual(jsonPutValue('1e400', Infinity), { value: Buffer.from('1e400').toString('base64'), encoding: 'base64', type: 'json' })
  })

  it('prettyJson lays out as JSON.stringify(v, null, n) does, every token as written', () => {
    fc.assert(fc.property(fc.jsonValue(), fc.integer({ min: 1, max: 4 }), (value, indent) => {
      assert.equal(prettyJson(JSON.stringify(value), indent), JSON.stringify(value, null, indent))
    }))
    assert.equal(prettyJson('{"a":[1e400,{}],"b":[],"c":"[x, {y}]"}'), '{\n  "a": [\n    1e400,\n    {}\n  ],\n  "b": [],\n  "c": "[x, {y}]"\n}')
  })

  it('stringifyExact is JSON.stringify of plain data, a JsonText in it as its text', () => {
    fc.assert(fc.property(fc.jsonValue(), value => {
      assert.equal(stringifyExact(value), JSON.stringify(value))
      assert.equal(stringifyExact(value, 2), JSON.stringify(value, null, 2))
    }))
    const entry = { key: 'k', value: new JsonText('[1e400,-0]'), encoding: undefined, type: 'json' }
    assert.equal(stringifyExact(entry), '{"key":"k","value":[1e400,-0],"type":"json"}')
    assert.equal(stringifyExact([entry], 2), '[\n  {\n    "key": "k",\n    "value": [\n      1e400,\n      -0\n    ],\n    "type": "json"\n  }\n]')
  })

  it('exactValue gives a base64 answer the shape of a UTF-8 one, a json value as its text', () => {
    const b64 = (text: string | Uint8Array): string => Buffer.from(text).toString('base64')
    assert.deepEqual(exactValue(b64('1e400'), 'json'), { value: new JsonText('1e400') })
    assert.deepEqual(exactValue(b64('héllo'), 'text'), { value: 'héllo' })
    assert.deepEqual(exactValue(b64('héllo'), undefined), { value: 'héllo' }, 'a daemon before types: its values are text')
    assert.deepEqual(exactValue(b64('abc'), 'binary'), { value: b64('abc'), encoding: 'base64' })
    assert.deepEqual(exactValue(b64(new Uint8Array([0xff])), 'text'), { value: '/w==', encoding: 'base64' }, 'not UTF-8')
    assert.deepEqual(exactValue(b64('{"a":'), 'json'), { value: b64('{"a":'), encoding: 'base64' }, 'json that does not parse, as the daemon sends it')
    const deep = '['.repeat(1001) + ']'.repeat(1001)
    assert.deepEqual(exactValue(b64(deep), 'json'), { value: b64(deep), encoding: 'base64' }, 'nested deeper than murmurd sends as JSON')
  })
})
