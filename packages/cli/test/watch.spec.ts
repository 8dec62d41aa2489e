import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ChangeEvent } from '@murmur/protocol'
import { VERSION, startFakeDaemon, type FakeConnection, type FakeDaemon } from './fake-daemon.js'
import { run, spawnCli, start, waitFor } from './run-cli.js'

const CHANGES: ChangeEvent[] = [
  { type: 'put', key: 'a', value: 'one', version: VERSION },
  { type: 'put', key: 'b', value: '/w==', encoding: 'base64', version: VERSION },
  { type: 'delete', key: 'a', version: VERSION }
]

function sendChanges (conn: FakeConnection): void {
  for (const change of CHANGES) conn.notify('sub-1', change)
}

describe('watch against a fake daemon', () => {
  // Key `close` in the prefix makes the daemon hang up after the changes; otherwise it stays open.
  let daemon: FakeDaemon
  before(async () => {
    daemon = await startFakeDaemon(({ params }) => ({
      result: 'sub-1',
      after: conn => {
        sendChanges(conn)
        if (params.prefix === 'close') conn.end()
      }
    }))
  })
  after(async () => await daemon.close())

  it('prints each change, then exits 3 when the daemon closes the connection', async () => {
    const { code, stdout, stderr } = await run(['--socket', daemon.path, 'watch', '--prefix', 'close'])
    assert.equal(stdout, 'put a = one\nput b = base64:/w==\ndel a\n')
    assert.equal(code, 3)
    assert.equal(stderr, `murmurctl: murmurd at ${daemon.path} closed the connection\n`)
    assert.deepEqual(daemon.requests.at(-1), { method: 'kv_subscribe', params: { prefix: 'close' } })
  })

  it('--json prints one change event per line', async () => {
    const { stdout } = await run(['--socket', daemon.path, '--json', 'watch', '--prefix', 'close'])
    assert.deepEqual(stdout.trimEnd().split('\n').map(line => JSON.parse(line)), CHANGES)
  })

  it('exits 0 when stopped', async () => {
    const stop = new AbortController()
    const watching = start(['--socket', daemon.path, 'watch'], { signal: stop.signal })
    await waitFor(() => watching.stdout.text.endsWith('del a\n'), 'the changes')
    stop.abort()
    assert.equal(await watching.exit, 0)
    assert.equal(watching.stderr.text, '')
  })

  it('the real bin exits 0 on SIGINT', async () => {
    const watching = spawnCli(['--socket', daemon.path, 'watch'])
    await waitFor(() => watching.stdout.text.endsWith('del a\n'), 'the changes')
    watching.kill('SIGINT')
    const { code, stderr } = await watching.exit
    assert.equal(stderr, '')
    assert.equal(code, 0)
  })
})
