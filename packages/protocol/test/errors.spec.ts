import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ErrorCodes, MurmurRpcError } from '../src/index.js'

describe('error codes', () => {
  it('assigns application codes only to errors murmurd sends, without renumbering them', () => {
    assert.deepEqual(Object.values(ErrorCodes).filter(code => code > 0), [1001, 1002, 1004, 1006, 1007, 1008, 1009, 1010, 1011])
  })

  it('names an error rebuilt without data.name after its code, and an unassigned code RpcError', () => {
    assert.equal(MurmurRpcError.fromWire({ code: 1004, message: 'value too large' }).name, 'ValueTooLargeError')
    assert.equal(MurmurRpcError.fromWire({ code: 1006, message: 'condition failed' }).name, 'ConditionFailedError')
    for (const code of [1003, 1005]) assert.equal(MurmurRpcError.fromWire({ code, message: 'x' }).name, 'RpcError', `code ${code}`)
  })
})
