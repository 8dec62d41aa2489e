/**
 * json values byte-exact through real `murmurd` and `murmurctl`: what
 * `put --json` is given is stored as its own tokens (compact), and `get`,
 * `get --pretty`, `list`, `history`, `watch` and `template` print the stored
 * text.
 * Through `JSON.parse` (a double per number), `1e400` would read as `null`,
 * `12345678901234567891` as `12345678901234567000`, `-0` as `0`, `1.50` as
 * `1.5`, and `"\u00e9"` as `"é"`.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { useNode, waitFor, type TestNode } from './harness.js'
import { startWatch } from './watch-client.js'

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

/** A json value written as its text, byte for byte (kv_put with base64). */
async function putText (node: TestNode, key: string, text: string): Promise<void> {
  await node.rpc('kv_put', { key, value: Buffer.from(text).toString('base64'), encoding: 'base64', type: 'json' })
}

describe('json values byte-exact through murmurctl', () => {
  const single = useNode()
  // written as their text in base64, so what murmurctl reads back does not hang on what put --json sends
  before(async () => { for (const [key, , stored] of VALUES) await putText(single.alice, key, stored) })

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

  it('get prints a json value as stored; --pretty indents it without changing a token; --json keeps it', async () => {
    const { alice } = single
    for (const [key, , stored] of VALUES) assert.equal((await alice.ctl(['get', key])).stdout, stored + '\n', key)
    const pretty = await alice.ctl(['get', 'j/nested', '--pretty'])
    assert.equal(pretty.stdout, '{\n  "a": [\n    1e400,\n    {\n      "b": -0,\n      "c": "x\\u00e9 y"\n    }\n  ],\n  "d": {},\n  "e": [],\n  "f": 1.50\n}\n')
    assert.equal((await alice.ctl(['get', 'j/quote', '--pretty'])).stdout, '[\n  "a \\" , {b}"\n]\n')
    const json = await alice.ctl(['--json', 'get', 'j/big'])
    assert.match(json.stdout, /^ {2}"value": 12345678901234567891,$/m)
  })

  it('list and list --json print each json value as stored', async () => {
    const { alice } = single
    const listed = await alice.ctl(['list', '--prefix', 'j/'])
    assert.equal(listed.stdout, VALUES.map(([key, , stored]) => `${key} = ${stored}\n`).join(''))
    const json = await alice.ctl(['--json', 'list', '--prefix', 'j/'])
    for (const [key, , stored] of VALUES) assert.ok(json.stdout.includes(`{"key":${JSON.stringify(key)},"value":${stored},"type":"json","version":`), `${key} in ${json.stdout}`)
    assert.equal((JSON.parse(json.stdout) as unknown[]).length, VALUES.length, 'still one JSON document')
  })

  it('history prints each version as stored', async () => {
    const { alice } = single
    await putText(alice, 'j/big', '98765432109876543211')
    const table = await alice.ctl(['history', 'j/big'])
    assert.match(table.stdout, /json {2}98765432109876543211 {2}current/)
    assert.match(table.stdout, /json {2}12345678901234567891 {2}writer had seen no version$/m)
    const json = await alice.ctl(['--json', 'history', 'j/big'])
    assert.match(json.stdout, /"value": 98765432109876543211,/)
    assert.match(json.stdout, /"value": 12345678901234567891,/)
  })

  it('watch prints a json value as stored', async () => {
    const { alice } = single
    const watch = startWatch(alice, ['--prefix', 'w/'])
    try {
      // the subscription is live once a put shows: put until one does, then the one under test
      await waitFor(async () => { await alice.ctl(['put', 'w/ping', 'x']); return watch.lines().length > 0 }, 'watch to be subscribed', 30_000, 200)
      await putText(alice, 'w/cfg', '{"n":1e400,"m":-0}')
      const line = await waitFor(() => watch.lines().find(l => l.includes('"w/cfg"')), 'the put of w/cfg', 30_000)
      assert.match(line, /"value":\{"n":1e400,"m":-0\},"valueType":"json"/)
    } finally {
      assert.equal(await watch.stop(), 0)
    }
  })

  it('template gets a json value\'s text in keys', async () => {
    const { alice, cluster } = single
    const template = join(cluster.dir, 'big.liquid')
    const out = join(cluster.dir, 'big.out')
    writeFileSync(template, '{{ keys["inf"] }} {{ keys["neg0"] }}')
    const run = await alice.ctl(['template', '--prefix', 'j/', '--template', template, '--out', out, '--once'])
    assert.equal(run.code, 0, run.stderr)
    assert.equal(readFileSync(out, 'utf8'), '1e400 -0')
  })
})
