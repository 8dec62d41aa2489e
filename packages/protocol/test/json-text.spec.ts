import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { compactJson, jsonPutValue } from '../src/index.js'

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
})
