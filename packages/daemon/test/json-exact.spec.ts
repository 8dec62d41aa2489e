/**
 * json values byte-exact through real `murmurd` and `murmurctl`: what
 * `put --json` is given is stored as its own tokens (compact).
 * Through `JSON.parse` (a double per number), `1e400` would read as `null`,
 * `12345678901234567891` as `12345678901234567000`, `-0` as `0`, `1.50` as
 * `1.5`, and `"\u00e9"` as `"é"`.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { useNode } from './harness.js'

/** In key order, each key's value as given to `put --json`, and the compact text it must be stored and printed as. */
const VALUES: Array<[string, string, string]> = [
  ['j/big', '12345678901234567891', '12345678901234567891'],
  ['j/inf', '1e400', '1e400'],
  ['j/neg0', '-0', '-0'],
  ['j/nested', '{ "a": [1e400, { "b": -0, "c": "x\\u00e9 y" }], "d": {}, "e": [ ], "f": 1.50 }', '{"a":[1e400,{"b":-0,"c":"x\\u00e9 y"}],"d":{},"e":[],"f":1.50}'],
  ['j/point', '1.50', '1.50'],
  ['j/quote', '[ "a \\" , {b}" ]', '["a \\" , {b}"]'],
  ['j/str', '"\\u00e9"', '"\\u00e9"']
]

describe('json values byte-exact through murmurctl', () => {
  const single = useNode()

  it('put --json stores the tokens as given, compact; an invalid one is refused where it stops', async () => {
    const { alice } = single
    for (const [key, given, stored] of VALUES) {
      const put = await alice.ctl(['put', '--json', `p/${key}`, given])
      assert.equal(put.code, 0, put.stderr)
      const row = (alice.userRows() as Array<{ key: string, value: Buffer }>).find(r => r.key === `p/${key}`)
      assert.equal(row?.value.toString('utf8'), stored, key)
    }
    const bad = await alice.ctl(['put', '--json', 'p/bad', '{"a": 1e400,'])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /^murmurctl: the value is not valid JSON at position 12: /)
  })
})
