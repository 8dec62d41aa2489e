/**
 * Typed values and conditional writes on real `murmurd` and `murmurctl`
 * binaries: json values are checked, stored with their type (a `kv_store`
 * column), replicated, and travel as JSON over the socket; conditional writes
 * are refused with their own code and exit code, atomically on one node, and
 * two nodes that cannot see each other may both accept one (the later wins).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { createMurmur } from '../src/index.js'
import { usePair, useNode, versionId, waitFor, type TestNode } from './harness.js'
import { RawClient } from './raw-client.js'

/** `kv_store.type` of `key`, read from the node's SQLite file as `sqlite3` would. */
function typeColumn (node: TestNode, key: string): unknown {
  const db = new Database(join(node.dataDir, 'murmur.db'), { readonly: true })
  try {
    return db.prepare('SELECT type FROM kv_store WHERE key = ?').pluck().get(key)
  } finally {
    db.close()
  }
}

/** The `version:` line of `get --meta`: `<origin>/<seq>`. */

describe('typed values', () => {
  const pair = usePair()

  it('put --json checks, stores and replicates a json value; get prints it as stored, --pretty indented', async () => {
    const { alice, bob } = pair
    const bad = await alice.ctl(['put', '--json', 'cfg', '{"replicas":'])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /^murmurctl: the value is not valid JSON at position 12: /)
    const put = await alice.ctl(['put', '--json', 'cfg', '{ "replicas": 3, "zones": ["a", "b"] }'])
    assert.equal(put.code, 0, put.stderr)
    const got = await waitFor(async () => { const r = await bob.ctl(['get', 'cfg']); return r.code === 0 && r }, 'cfg on bob')
    assert.equal(got.stdout, '{"replicas":3,"zones":["a","b"]}\n')
    assert.equal((await bob.ctl(['get', 'cfg', '--pretty'])).stdout, JSON.stringify({ replicas: 3, zones: ['a', 'b'] }, null, 2) + '\n')
    assert.equal(typeColumn(alice, 'cfg'), 'json')
    assert.equal(typeColumn(bob, 'cfg'), 'json')
    assert.match((await bob.ctl(['get', 'cfg', '--meta'])).stdout, /^type:\s+json$/m)
  })

  it('list --json gives json values as JSON, text as strings, binary as base64; binary has its own type', async () => {
    const { alice, bob } = pair
    await alice.put('name', 'murmur')
    assert.equal((await alice.ctl(['put', '--base64', 'blob', 'AP8='])).code, 0)
    const listed = await waitFor(async () => {
      const items = await bob.json<Array<{ key: string }>>(['list'])
      return items.length === 3 && items
    }, 'three keys on bob')
    assert.deepEqual(listed.map(({ version, ...rest }: any) => rest), [
      { key: 'blob', value: 'AP8=', encoding: 'base64', type: 'binary' },
      { key: 'cfg', value: { replicas: 3, zones: ['a', 'b'] }, type: 'json' },
      { key: 'name', value: 'murmur', type: 'text' }
    ])
    assert.equal(typeColumn(bob, 'blob'), 'binary')
    assert.equal(typeColumn(bob, 'name'), 'text')
  })

  it('over JSON-RPC a json value goes in and comes out as JSON, or as its text in base64; misuse is InvalidParams', async () => {
    const { alice } = pair
    const client = await RawClient.connect(alice.socket)
    try {
      const put = await client.request('kv_put', { key: 'doc', value: { a: [1, null, 'x'] }, type: 'json' })
      assert.ok(put.result?.version, JSON.stringify(put))
      const got = await client.request('kv_get', { key: 'doc' })
      assert.deepEqual(got.result.value, { a: [1, null, 'x'] })
      assert.equal(got.result.type, 'json')
      const scalar = await client.request('kv_put', { key: 'n', value: 42, type: 'json' })
      assert.ok(scalar.result, JSON.stringify(scalar))
      assert.equal((await client.request('kv_get', { key: 'n' })).result.value, 42)
      // as base64, a json value is its text byte for byte (as JSON, 1e400 would arrive as a double: null)
      const b64 = (text: string): string => Buffer.from(text).toString('base64')
      assert.ok((await client.request('kv_put', { key: 'exact', value: b64('[1e400, -0]'), type: 'json', encoding: 'base64' })).result)
      assert.deepEqual((await client.request('kv_get', { key: 'exact', encoding: 'base64' })).result, { key: 'exact', value: b64('[1e400, -0]'), encoding: 'base64', type: 'json', version: (await client.request('kv_get', { key: 'exact' })).result.version })
      const notJson = await client.request('kv_put', { key: 'x', value: b64('{"a":'), type: 'json', encoding: 'base64' })
      assert.equal(notJson.error?.data?.name, 'InvalidJsonError', JSON.stringify(notJson))
      for (const params of [{ key: 'x', value: 42 }, { key: 'x', value: {}, type: 'json', encoding: 'base64' }, { key: 'x', value: '1', type: 'json', encoding: 'utf8' }, { key: 'x', value: 'v', type: 'yaml' }]) {
        const answer = await client.request('kv_put', params)
        assert.equal(answer.error?.code, -32602, JSON.stringify(answer))
      }
    } finally {
      client.socket.destroy()
    }
  })

  it('a json value too deep for JSON.stringify, written by an embedded member, comes as base64 and murmurd lives', async () => {
    const { alice } = pair
    const dir = mkdtempSync(join(tmpdir(), 'murmur-deep-'))
    const member = await createMurmur({ name: 'lib', dataDir: join(dir, 'lib'), listen: ['/ip4/127.0.0.1/tcp/0'], peers: [await alice.addr()], mdns: false, dht: false })
    try {
      // 10 KB of nested arrays: valid JSON, which JSON.parse takes and JSON.stringify overflowed the stack on
      const deep = '['.repeat(5000) + ']'.repeat(5000)
      await member.put('deep', deep, { type: 'json' })
      const got = await waitFor(async () => { const r = await alice.ctl(['get', 'deep']); return r.code === 0 && r }, 'deep on alice')
      assert.equal(got.stdout, deep, 'printed as the bytes it is')
      const listed = await alice.json<Array<{ key: string, value: string, encoding?: string, type: string }>>(['list', '--prefix', 'deep'])
      assert.deepEqual(listed.map(({ value, encoding, type }) => ({ value, encoding, type })), [{ value: Buffer.from(deep).toString('base64'), encoding: 'base64', type: 'json' }])
      assert.equal(alice.process?.exitCode, null, alice.stderr.slice(-2000))
    } finally {
      await member.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('conditional writes', () => {
  const single = useNode()

  it('--if-version and --if-absent write only when the key is so, else exit 5 and write nothing', async () => {
    const { alice } = single
    await alice.put('k', 'v1')
    const v1 = await versionId(alice, 'k')
    const ok = await alice.ctl(['put', '--if-version', v1, 'k', 'v2'])
    assert.equal(ok.code, 0, ok.stderr)
    const stale = await alice.ctl(['put', '--if-version', v1, 'k', 'v3'])
    assert.equal(stale.code, 5)
    assert.match(stale.stderr, /condition failed for "k": its version is .*\/\d+, not .*\/\d+/)
    assert.equal((await alice.ctl(['get', 'k'])).stdout, 'v2\n')
    assert.equal((await alice.ctl(['put', '--if-absent', 'k', 'x'])).code, 5)
    assert.equal((await alice.ctl(['put', '--if-absent', 'fresh', 'x'])).code, 0)
    assert.equal((await alice.ctl(['del', '--if-version', v1, 'k'])).code, 5)
    assert.equal((await alice.ctl(['get', 'k'])).stdout, 'v2\n')
    assert.equal((await alice.ctl(['del', '--if-version', await versionId(alice, 'k'), 'k'])).code, 0)
    assert.equal((await alice.ctl(['get', 'k'])).code, 4)
    assert.equal((await alice.ctl(['put', '--if-absent', 'k', 'again'])).code, 0, 'a deleted key is absent')
    const usage = await alice.ctl(['put', '--if-version', 'seven', 'k', 'v'])
    assert.equal(usage.code, 2)
    assert.match(usage.stderr, /expected <origin>\/<seq>/)
  })

  it('is atomic on one node: of ten writers with one expected version in one batch, one wins', async () => {
    const { alice } = single
    await alice.put('race', 'start')
    const { version } = (await alice.json(['get', 'race'])) as { version: { origin: string, seq: number } }
    const client = await RawClient.connect(alice.socket)
    try {
      const batch = Array.from({ length: 10 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'kv_put', params: { key: 'race', value: `w${i}`, ifVersion: { origin: version.origin, seq: version.seq } } }))
      client.write(JSON.stringify(batch) + '\n')
      const answers = (await client.next(m => Array.isArray(m))) as Array<{ result?: unknown, error?: { code: number, data: { name: string, current: unknown } } }>
      assert.equal(answers.filter(a => a.result !== undefined).length, 1, JSON.stringify(answers))
      const refused = answers.filter(a => a.error !== undefined)
      assert.equal(refused.length, 9)
      for (const a of refused) assert.equal(a.error?.code, 1006)
      assert.equal(refused[0]?.error?.data.name, 'ConditionFailedError')
      const stale = await client.request('kv_put', { key: 'race', value: 'late', ifVersion: { origin: version.origin, seq: version.seq } })
      assert.deepEqual(stale.error.data.current, (await alice.json(['get', 'race'])).version, 'the error names the version the key is at')
    } finally {
      client.socket.destroy()
    }
  })

  it('two nodes that cannot see each other may both accept --if-absent: the later version wins everywhere', async () => {
    const { alice, cluster } = single
    const bob = await cluster.start('bob')
    assert.equal((await alice.ctl(['put', '--if-absent', 'leader', 'alice'])).code, 0)
    assert.equal((await bob.ctl(['put', '--if-absent', 'leader', 'bob'])).code, 0)
    assert.equal((await bob.ctl(['connect', await alice.addr()])).code, 0)
    const winner = await waitFor(async () => {
      const [a, b] = await Promise.all([alice.ctl(['get', 'leader']), bob.ctl(['get', 'leader'])])
      return a.stdout === b.stdout && a.stdout
    }, 'both nodes to agree on leader')
    assert.equal(winner, 'bob\n', 'bob wrote later')
  })
})
