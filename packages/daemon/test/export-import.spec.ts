/**
 * `murmurctl export` and `murmurctl import` against real daemons: an export
 * holds every key with its type and version, imported into another group it
 * gives the same keys and values (binary ones included) and replicates from
 * there, and bad input names its line and writes nothing at all.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { fakeTime, noFakeTime } from './fake-time.js'
import { MURMURCTL, TestCluster, run, waitFor, type TestNode } from './harness.js'

/** `list --json` as [key, value, encoding, type], the form both sides can be compared in. */
async function entries (node: TestNode): Promise<Array<[string, unknown, string | undefined, string | undefined]>> {
  const items = await node.json<Array<{ key: string, value: unknown, encoding?: string, type?: string }>>(['list'])
  return items.map(({ key, value, encoding, type }) => [key, value, encoding, type])
}

describe('murmurctl export and import', () => {
  let cluster: TestCluster
  before(() => { cluster = new TestCluster() })
  after(async () => { await cluster.close() })

  it('exports every key with its type and version, and imports them into another group', async () => {
    const alice = await cluster.start('alice')
    await alice.put('app/name', 'murmur')
    await alice.put('app/motd', 'line one\nline two')
    const binary = Buffer.from([0, 255, 1, 254])
    assert.equal((await alice.ctl(['put', '--base64', 'app/blob', binary.toString('base64')])).code, 0)
    await alice.put('other', 'x')
    assert.equal((await alice.ctl(['put', '--json', 'app/cfg', '{"replicas": 3}'])).code, 0)
    const exported = await alice.ctl(['export'])
    assert.equal(exported.code, 0, exported.stderr)
    assert.match(exported.stderr, /exported 5 keys/)
    const lines = exported.stdout.trim().split('\n').map(line => JSON.parse(line))
    const listed = await alice.json<Array<{ key: string, version: unknown }>>(['list'])
    assert.deepEqual(lines.map(l => [l.key, l.version]), listed.map(e => [e.key, e.version]), 'one line per key, in key order, with its version')
    assert.deepEqual(lines.find(l => l.key === 'app/blob'), { key: 'app/blob', type: 'binary', value: binary.toString('base64'), version: listed.find(e => e.key === 'app/blob')?.version })
    assert.equal(lines.find(l => l.key === 'app/motd')?.type, 'text')
    assert.deepEqual([lines.find(l => l.key === 'app/cfg')?.type, lines.find(l => l.key === 'app/cfg')?.value], ['json', '{"replicas":3}'])
    const prefixed = await alice.ctl(['export', '--prefix', 'app/'])
    assert.equal(prefixed.stdout.trim().split('\n').length, 4)

    const dump = join(cluster.dir, 'dump.ndjson')
    writeFileSync(dump, exported.stdout)
    const carol = await cluster.start('carol', { group: 'elsewhere' })
    const dave = await cluster.start('dave', { group: 'elsewhere', peers: [await carol.addr()] })
    const imported = await carol.ctl(['import', dump])
    assert.equal(imported.code, 0, imported.stderr)
    assert.match(imported.stdout, /^OK imported 5 keys from .*dump\.ndjson in 1 batch \(\d+ ms\)$/m)
    assert.deepEqual(await entries(carol), await entries(alice))
    const blob = await carol.ctl(['get', 'app/blob'])
    assert.deepEqual(blob.stdoutBytes, binary)
    await cluster.converged([carol, dave], 4)
  })

  it('imports a large export from stdin in batches', async () => {
    const carol = cluster.node('carol')
    const lines = Array.from({ length: 1200 }, (_, i) => JSON.stringify({ key: `bulk/${String(i).padStart(4, '0')}`, type: 'text', value: `v${i}` })).join('\n') + '\n'
    const imported = await carol.ctl(['import', '-'], lines)
    assert.equal(imported.code, 0, imported.stderr)
    assert.match(imported.stdout, /imported 1200 keys from stdin in 3 batches/)
    const bulk = await carol.json<unknown[]>(['list', '--prefix', 'bulk/'])
    assert.equal(bulk.length, 1200)
  })

  it('keeps a text value whose bytes are not UTF-8 a text value, bytes and all', async () => {
    const alice = cluster.node('alice')
    const carol = cluster.node('carol')
    const latin1 = Buffer.from('caf\u00e9', 'latin1')
    assert.equal((await alice.ctl(['put', '--type', 'text', 'latin/menu', '-'], latin1)).code, 0)
    const before = await alice.json<{ type?: string }>(['get', 'latin/menu'])
    assert.equal(before.type, 'text')
    const exported = await alice.ctl(['export', '--prefix', 'latin/'])
    assert.equal(exported.code, 0, exported.stderr)
    const imported = await carol.ctl(['import', '-'], exported.stdout)
    assert.equal(imported.code, 0, imported.stderr)
    assert.equal((await carol.json<{ type?: string }>(['get', 'latin/menu'])).type, 'text', 'the type survives the round trip')
    assert.deepEqual((await carol.ctl(['get', 'latin/menu'])).stdoutBytes, latin1)
  })

  it('keeps json values byte for byte through import and export: no number is read as a double, no escape undone', async () => {
    const carol = cluster.node('carol')
    const texts = ['12345678901234567891', '1e400', '-0', '0.1', '1.0', '0.30000000000000004', '"\\u00e9\\ud83d\\ude00"', '{"a": 1.50, "b": [1E2]}', '{"replicas":3}']
    const file = join(cluster.dir, 'exact.ndjson')
    writeFileSync(file, texts.map((value, i) => JSON.stringify({ key: `exact/${i}`, type: 'json', value }) + '\n').join(''))
    const imported = await carol.ctl(['import', file])
    assert.equal(imported.code, 0, imported.stderr)
    const exported = await carol.ctl(['export', '--prefix', 'exact/'])
    assert.equal(exported.code, 0, exported.stderr)
    const lines = exported.stdout.trim().split('\n').map(line => JSON.parse(line) as { key: string, type: string, value: string })
    assert.deepEqual(lines.map(({ key, type, value }) => [key, type, value]), texts.map((value, i) => [`exact/${i}`, 'json', value]))
  })

  it('refuses bad input naming the line, and writes nothing of it', async () => {
    const carol = cluster.node('carol')
    const good = (key: string): string => JSON.stringify({ key, type: 'text', value: 'must-not-appear' })
    const cases: Array<[string, RegExp]> = [
      [`${good('bad/1')}\n${good('bad/2')}\n{"key": "bad/3", "value": 7}\n`, /line 3: "value" must be a string/],
      [`${good('bad/1')}\n\n{"key": "bad/3"\n`, /line 3: not JSON/],
      [`${good('bad/1')}\n{"key": "bad/2", "type": "binary", "value": "not base64!"}\n`, /line 2: "value": value is not valid base64/],
      [`${good('bad/1')}\n{"key": "bad/2", "type": "yaml", "value": "{}"}\n`, /line 2: "type" must be "text", "json" or "binary", not "yaml"/],
      [`${good('bad/1')}\n{"key": "bad/2", "type": "json", "value": "{"}\n`, /line 2: "value" is not JSON text/],
      [`${good('bad/1')}\n{"key": "\\u0000x", "value": "v"}\n`, /line 2: "key" starts with U\+0000/],
      [`${good('bad/1')}\n{"key": "bad/2", "value": "${'x'.repeat(1024 * 1024 + 1)}"}\n`, /line 2: "value" is 1048577 bytes, over the 1048576-byte limit/],
      [`${good('bad/1')}\n{"key": "bad/2", "vaule": "v"}\n`, /line 2: unknown field "vaule"/]
    ]
    for (const [input, message] of cases) {
      const file = join(cluster.dir, 'bad.ndjson')
      writeFileSync(file, input)
      const result = await carol.ctl(['import', file])
      assert.equal(result.code, 1, input.slice(0, 200))
      assert.match(result.stderr, message)
      assert.match(result.stderr, /nothing was imported/)
    }
    assert.deepEqual(await carol.json(['list', '--prefix', 'bad/']), [], 'no line of a bad input was written')
    const missing = await carol.ctl(['import', join(cluster.dir, 'missing.ndjson')])
    assert.deepEqual([missing.code, missing.stderr.trim()], [1, `murmurctl: cannot read ${join(cluster.dir, 'missing.ndjson')}: ENOENT: no such file or directory`])
  })

  it('import on a machine whose clock is behind the writer\'s keeps a year\'s TTL a TTL', { skip: noFakeTime }, async () => {
    const node = await cluster.start('yearly')
    assert.equal((await node.ctl(['put', '--ttl', '365d', 'exp/year', 'x'])).code, 0)
    const line = JSON.parse((await node.ctl(['export', '--prefix', 'exp/year'])).stdout.trim()) as { key: string, expires: number }
    const file = join(cluster.dir, 'year.ndjson')
    writeFileSync(file, JSON.stringify({ ...line, key: 'exp/year-copy' }) + '\n')
    // murmurctl's clock 30 s behind the writer's, within any group's clock skew: more than a year is left
    const imported = await run('env', [...fakeTime('-30s').slice(1), process.execPath, MURMURCTL, '--socket', node.socket, 'import', file])
    assert.equal(imported.code, 0, imported.stderr)
    const copy = await node.json(['get', 'exp/year-copy'])
    assert.ok(copy.expires !== undefined && Math.abs(copy.expires - line.expires) < 60_000, `the copy expires when the original does (${String(copy.expires)} vs ${line.expires})`)
  })

  it('an import that murmurd holds up keeps each key\'s expiry: the TTL is what is left when its batch is sent, not when the file was read', async () => {
    const node = await cluster.start('stalled')
    const expires = Date.now() + 600_000
    const count = 20 * 500 // batches enough that several are sent after the stall
    const file = join(cluster.dir, 'expiring.ndjson')
    writeFileSync(file, Array.from({ length: count }, (_, i) => JSON.stringify({ key: `exp/${String(i).padStart(5, '0')}`, value: 'v', expires }) + '\n').join(''))
    const importing = node.ctl(['import', file])
    // once a batch is in, murmurd stops answering for a while (a busy disk, a paused VM); the rest of the import waits
    await waitFor(async () => (await node.rpc('kv_list', { prefix: 'exp/', limit: 1 })).items.length > 0, 'the first batch to be written', 30_000, 10)
    const STALL_MS = 4_000
    node.process?.kill('SIGSTOP')
    await delay(STALL_MS)
    node.process?.kill('SIGCONT')
    const imported = await importing
    assert.equal(imported.code, 0, imported.stderr)
    const last = await node.rpc('kv_get', { key: `exp/${String(count - 1).padStart(5, '0')}` })
    const late = (last?.expires ?? 0) - expires
    assert.ok(Math.abs(late) < STALL_MS / 2, `the last key expires when its line says, not ${late} ms later`)
  })
})
