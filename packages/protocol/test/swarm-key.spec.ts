import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { SwarmKeyError, formatSwarmKey, parseSwarmKey } from '../src/index.js'

const HEX = 'c0ffee'.repeat(10) + 'c0de'

describe('swarm key file', () => {
  it('round-trips any 32-byte key through the standard format', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), key => {
      const text = formatSwarmKey(key)
      assert.match(text, /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/)
      assert.deepEqual(parseSwarmKey(text), key)
    }))
    assert.throws(() => formatSwarmKey(new Uint8Array(31)), RangeError)
  })

  it('reads keys written by other tools: no final newline, CRLF, upper-case hex, trailing blank lines', () => {
    const key = Uint8Array.from(Buffer.from(HEX, 'hex'))
    for (const text of [
      `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}`,
      `/key/swarm/psk/1.0.0/\r\n/base16/\r\n${HEX}\r\n`,
      `/key/swarm/psk/1.0.0/\n/base16/\n${HEX.toUpperCase()}\n\n\n`
    ]) assert.deepEqual(parseSwarmKey(text), key, JSON.stringify(text))
  })

  it('says which line is wrong', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /first line/],
      [`/key/swarm/psk/1.0.0/\n/base64/\n${HEX}\n`, /second line must be \/base16\//],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX}ab\n`, /third line must be the key: 64 hexadecimal digits/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(0, 62)}zz\n`, /third line/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n`, /third line/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\n${HEX}\n`, /unexpected text after the key/]
    ]
    for (const [text, message] of cases) assert.throws(() => parseSwarmKey(text), (err: Error) => err instanceof SwarmKeyError && message.test(err.message), JSON.stringify(text))
  })
})
