import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Entry } from '@murmur/protocol'
import { VERSION, byMethod, startFakeDaemon, type Answer, type FakeDaemon } from './fake-daemon.js'
import { run, spawnCli } from './run-cli.js'

const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a])

const STORE: Record<string, Entry> = {
  text: { key: 'text', value: 'hello world', version: VERSION },
  binary: { key: 'binary', value: BINARY.toString('base64'), encoding: 'base64', version: VERSION },
  doc: { key: 'doc', value: { replicas: 3, zones: ['a'] }, type: 'json', version: VERSION }
}

describe('key commands against a fake daemon', () => {
  let daemon: FakeDaemon
  const cli = async (...argv: string[]): ReturnType<typeof run> => await run(['--socket', daemon.path, ...argv])
  const lastParams = (): Record<string, unknown> | undefined => daemon.requests.at(-1)?.params

  before(async () => {
    daemon = await startFakeDaemon(byMethod({
      kv_put: ({ key }) => key === 'big'
        ? { error: { code: 1004, message: 'value is 2000000 bytes, over the 1048576-byte limit', data: { name: 'ValueTooLargeError' } } }
        : key === 'taken'
          ? { error: { code: 1006, message: 'condition failed for "taken": it exists', data: { name: 'ConditionFailedError', key, current: VERSION } } }
          : { result: { version: VERSION } },
      kv_get: ({ key }) => ({ result: STORE[key as string] ?? null }),
      kv_delete: ({ key }): Answer => ({ result: key === 'text' ? { deleted: true, version: VERSION } : { deleted: false } })
    }))
  })
  after(async () => await daemon.close())

  it('put prints the new version', async () => {
    const { code, stdout, stderr } = await cli('put', 'k', 'v')
    assert.equal(stderr, '')
    assert.equal(code, 0)
    assert.equal(stdout, 'OK version 1732630000000.3 origin 12D3KooWAlice seq 5\n')
    assert.deepEqual(lastParams(), { key: 'k', value: 'v' })
  })

  it('murmurctl --json put prints the result (put\'s own --json is the value\'s type)', async () => {
    const { code, stdout } = await cli('--json', 'put', 'k', 'v')
    assert.equal(code, 0)
    assert.deepEqual(JSON.parse(stdout), { version: VERSION })
  })

  it('put - sends UTF-8 stdin as text and other bytes as base64', async () => {
    assert.equal((await run(['--socket', daemon.path, 'put', 'k', '-'], { stdin: 'line one\nline two\n' })).code, 0)
    assert.deepEqual(lastParams(), { key: 'k', value: 'line one\nline two\n' })
    assert.equal((await run(['--socket', daemon.path, 'put', 'k', '-'], { stdin: BINARY })).code, 0)
    assert.deepEqual(lastParams(), { key: 'k', value: BINARY.toString('base64'), encoding: 'base64' })
  })

  it('put --base64 sends the given base64, unwrapped', async () => {
    assert.equal((await run(['--socket', daemon.path, 'put', 'k', '-', '--base64'], { stdin: 'AP/+\ngAo=\n' })).code, 0)
    assert.deepEqual(lastParams(), { key: 'k', value: 'AP/+gAo=', encoding: 'base64' })
  })

  it('an error answer exits 1 with message, name and code', async () => {
    const { code, stdout, stderr } = await cli('put', 'big', 'v')
    assert.equal(code, 1)
    assert.equal(stdout, '')
    assert.equal(stderr, 'murmurctl: value is 2000000 bytes, over the 1048576-byte limit (ValueTooLargeError, code 1004)\n')
  })

  it('get prints a text value and a newline', async () => {
    const { code, stdout } = await cli('get', 'text')
    assert.equal(code, 0)
    assert.equal(stdout, 'hello world\n')
    assert.deepEqual(lastParams(), { key: 'text', encoding: 'base64' }, 'values as stored (a json value as its text)')
  })

  it('get writes a binary value as its raw bytes', async () => {
    const { code, stdoutBytes } = await cli('get', 'binary')
    assert.equal(code, 0)
    assert.deepEqual(stdoutBytes, BINARY)
  })

  it('get --meta adds the version, wall clock as ISO time and ms', async () => {
    const { code, stdout } = await cli('get', 'binary', '--meta')
    assert.equal(code, 0)
    assert.equal(stdout, [
      'key:     binary',
      `value:   base64:${BINARY.toString('base64')}`,
      'type:    binary',
      'version: 12D3KooWAlice/5',
      'wall:    2024-11-26T14:06:40.000Z (1732630000000 ms)',
      'logical: 3',
      'origin:  12D3KooWAlice',
      'seq:     5',
      ''
    ].join('\n'))
  })

  it('put --json sends the parsed JSON with type json; JSON that does not parse is refused before sending', async () => {
    assert.equal((await cli('put', '--json', 'k', '{ "a": [1, 2] }')).code, 0)
    assert.deepEqual(lastParams(), { key: 'k', value: { a: [1, 2] }, type: 'json' })
    assert.equal((await cli('put', 'k', '7', '--json')).code, 0, '--json after the key is still the value\'s type')
    assert.deepEqual(lastParams(), { key: 'k', value: 7, type: 'json' })
    const before = daemon.requests.length
    const bad = await cli('put', '--json', 'k', '[1,,2]')
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /^murmurctl: the value is not valid JSON at position 3: /)
    assert.equal(daemon.requests.length, before, 'nothing sent')
    assert.equal((await cli('put', '--json', '--base64', 'k', 'AA==')).code, 1)
  })

  it('put --if-version and --if-absent send the condition; a failed one exits 5', async () => {
    assert.equal((await cli('put', '--if-version', '12D3KooWAlice/5', 'k', 'v')).code, 0)
    assert.deepEqual(lastParams(), { key: 'k', value: 'v', ifVersion: { origin: '12D3KooWAlice', seq: 5 } })
    const failed = await cli('put', '--if-absent', 'taken', 'v')
    assert.deepEqual(lastParams(), { key: 'taken', value: 'v', ifAbsent: true })
    assert.equal(failed.code, 5)
    assert.equal(failed.stderr, 'murmurctl: condition failed for "taken": it exists\n')
    for (const bad of ['alice', 'alice/0', '/5', 'alice/5x']) assert.equal((await cli('put', '--if-version', bad, 'k', 'v')).code, 2, bad)
    assert.equal((await cli('del', '--if-version', '12D3KooWAlice/5', 'text')).code, 0)
    assert.deepEqual(lastParams(), { key: 'text', ifVersion: { origin: '12D3KooWAlice', seq: 5 } })
  })

  it('get prints a json value as stored, --pretty indented; list shows it compact', async () => {
    assert.equal((await cli('get', 'doc')).stdout, '{"replicas":3,"zones":["a"]}\n')
    assert.equal((await cli('get', 'doc', '--pretty')).stdout, '{\n  "replicas": 3,\n  "zones": [\n    "a"\n  ]\n}\n')
    assert.match((await cli('get', 'doc', '--meta')).stdout, /^value: {3}\{"replicas":3,"zones":\["a"\]\}\ntype: {4}json$/m)
  })

  it('get --json prints the entry', async () => {
    const { stdout } = await cli('--json', 'get', 'text')
    assert.deepEqual(JSON.parse(stdout), STORE.text)
  })

  it('get of a missing key exits 4', async () => {
    const { code, stdout, stderr } = await cli('get', 'nope')
    assert.equal(code, 4)
    assert.equal(stdout, '')
    assert.equal(stderr, 'murmurctl: key not found: nope\n')
  })

  it('del prints the tombstone\'s version, or exits 4 when there was nothing to delete', async () => {
    const deleted = await cli('del', 'text')
    assert.equal(deleted.code, 0)
    assert.equal(deleted.stdout, 'OK deleted, version 1732630000000.3 origin 12D3KooWAlice seq 5\n')
    const missing = await cli('del', 'nope')
    assert.equal(missing.code, 4)
    assert.equal(missing.stderr, 'murmurctl: key not found: nope\n')
  })

  it('the real bin reads put - from stdin and exits once done', async () => {
    const { code, stderr } = await spawnCli(['--socket', daemon.path, 'put', 'piped', '-'], { stdin: 'from a pipe' }).exit
    assert.equal(stderr, '')
    assert.equal(code, 0)
    assert.deepEqual(lastParams(), { key: 'piped', value: 'from a pipe' })
  })
})

describe('a daemon that does not answer', () => {
  let daemon: FakeDaemon
  before(async () => {
    daemon = await startFakeDaemon(({ params }) => params.key === 'hang' ? { silent: true } : { silent: true, after: conn => conn.end() })
  })
  after(async () => await daemon.close())

  it('exits 3 after --timeout', async () => {
    const { code, stderr } = await run(['--socket', daemon.path, '--timeout', '50', 'get', 'hang'])
    assert.equal(code, 3)
    assert.equal(stderr, `murmurctl: murmurd at ${daemon.path} did not answer kv_get within 50 ms\n`)
  })

  it('exits 3 when the daemon closes the connection before answering', async () => {
    const { code, stderr } = await run(['--socket', daemon.path, 'get', 'hangup'])
    assert.equal(code, 3)
    assert.equal(stderr, `murmurctl: murmurd at ${daemon.path} closed the connection\n`)
  })
})
