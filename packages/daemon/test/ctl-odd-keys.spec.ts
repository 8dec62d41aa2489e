/**
 * `murmurctl` on a real `murmurd` with keys (and a peer's name) that hold line
 * breaks and other control characters: every message and every
 * human-readable line stays one line, as the README promises.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { Attacker } from './attacker.js'
import { TestCluster, waitFor, type TestNode } from './harness.js'

describe('murmurctl with keys holding line breaks', () => {
  let cluster: TestCluster
  let node: TestNode
  before(async () => {
    cluster = new TestCluster()
    node = await cluster.start('alice')
  })
  after(async () => { await cluster.close() })

  it('a missing key is named on one line (exit 4), as a JSON string when it holds a line break', async () => {
    for (const command of ['get', 'del', 'history']) {
      const missing = await node.ctl([command, 'no\nkey'])
      assert.equal(missing.code, 4, command)
      assert.equal(missing.stderr, 'murmurctl: key not found: "no\\nkey"\n', command)
    }
    assert.equal((await node.ctl(['get', 'plain'])).stderr, 'murmurctl: key not found: plain\n')
  })

  it('list shows a key or value holding NEL, a C1 control or U+2028 as a JSON string literal, escapes included', async () => {
    for (const key of ['odd/nel\u0085key', 'odd/csi\u009b31m', 'odd/ls\u2028key']) {
      assert.equal((await node.ctl(['put', key, `v\u2029${key}`])).code, 0)
    }
    const listed = await node.ctl(['list', '--prefix', 'odd/'])
    assert.equal(listed.code, 0, listed.stderr)
    assert.equal(listed.stdout, [
      '"odd/csi\\u009b31m" = "v\\u2029odd/csi\\u009b31m"',
      '"odd/ls\\u2028key" = "v\\u2029odd/ls\\u2028key"',
      '"odd/nel\\u0085key" = "v\\u2029odd/nel\\u0085key"',
      ''
    ].join('\n'))
  })

  it('revert of a version a key lacks suggests a history command the shell takes as one key', async () => {
    const hints: Array<[string, string]> = [
      ['plain/key', 'murmurctl history plain/key'],
      ['my key', "murmurctl history 'my key'"],
      ["it's $HOME", "murmurctl history 'it'\\''s $HOME'"],
      ['-dash', 'murmurctl history -- -dash'],
      ['two\nlines', 'murmurctl history <key>']
    ]
    for (const [key, hint] of hints) {
      const missing = await node.ctl(['revert', '--', key, '12D3KooWNobody/1'])
      assert.equal(missing.code, 4, key)
      assert.equal(missing.stderr.split('\n').length, 2, `one line for ${JSON.stringify(key)}: ${missing.stderr}`)
      assert.ok(missing.stderr.includes(`(${hint} lists those it holds)`), `${JSON.stringify(key)}: ${missing.stderr}`)
    }
  })
})

describe('murmurctl with a peer name holding control characters', () => {
  let cluster: TestCluster
  let mallory: Attacker
  before(async () => { cluster = new TestCluster() })
  after(async () => {
    await mallory?.node.stop()
    await cluster.close()
  })

  it('peers and status show the name a peer gave as a JSON string literal, never its escapes raw', async () => {
    mallory = await Attacker.start()
    const name = 'evil\n\u001b[2Jname'
    mallory.answer = (_puller, hello) => [mallory.hello(hello, { name }), { kind: 'control', message: { t: 'done' } }]
    const node = await cluster.start('alice', { peers: [mallory.node.getMultiaddrs()[0]?.toString() as string] })
    await waitFor(async () => (await node.json<Array<{ name?: string }>>(['peers'])).some(p => p.name === name), 'alice to learn the name mallory gave')
    for (const command of ['peers', 'status']) {
      const out = (await node.ctl([command])).stdout
      assert.doesNotMatch(out, /\u001b/, command)
      assert.ok(out.includes(`${JSON.stringify(name)} ${command === 'peers' ? ' ' : ''}`), `${command}: ${out}`)
    }
  })
})
