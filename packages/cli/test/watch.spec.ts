import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { ChangeEvent } from '@murmur/protocol'
import { VERSION, startFakeDaemon, type FakeConnection, type FakeDaemon } from './fake-daemon.js'
import { run, spawnCli, start, waitFor } from './run-cli.js'

const CHANGES: ChangeEvent[] = [
  { type: 'put', key: 'a', value: 'one', version: VERSION },
  { type: 'put', key: 'b', value: '/w==', encoding: 'base64', version: VERSION },
  { type: 'delete', key: 'a', version: VERSION, cursor: 7 },
  { type: 'conflict', key: 'c', value: 'lost', valueType: 'text', version: VERSION, cursor: 8 }
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
        if ((params.prefixes as string[] | undefined)?.includes('close') === true) conn.end()
      }
    }))
  })
  after(async () => await daemon.close())

  it('prints each change; when the daemon closes the connection it says so and tries again, resuming after the last cursor', async () => {
    const stop = new AbortController()
    const watching = start(['--socket', daemon.path, 'watch', '--prefix', 'close', '--prefix', 'other'], { signal: stop.signal })
    try {
      await waitFor(() => watching.stderr.text.includes('went away'), 'the first hang-up')
      await waitFor(() => daemon.requests.filter(r => r.method === 'kv_subscribe').length >= 2, 'a second subscription')
    } finally {
      stop.abort() // a failed wait must not leave the watch running
    }
    assert.equal(await watching.exit, 0)
    assert.ok(watching.stdout.text.startsWith('put a = one\nput b = base64:/w==\ndel a\n' +
      'conflict c: lost by 12D3KooWAlice at 2024-11-26T14:06:40.000Z lost to a write that had not seen it\n'), watching.stdout.text)
    assert.match(watching.stderr.text, new RegExp(`^murmurctl watch: murmurd at ${daemon.path} went away; trying again with backoff`))
    const subscriptions = daemon.requests.filter(r => r.method === 'kv_subscribe').map(r => r.params)
    assert.deepEqual(subscriptions[0], { prefixes: ['close', 'other'], since: 'now', encoding: 'base64' })
    assert.deepEqual(subscriptions[1], { prefixes: ['close', 'other'], since: 8, encoding: 'base64' }, 'resumes after the last cursor it saw (a conflict\'s too)')
  })

  it('--json prints one change event per line', async () => {
    const stop = new AbortController()
    const watching = start(['--socket', daemon.path, '--json', 'watch', '--prefix', 'close'], { signal: stop.signal })
    try {
      await waitFor(() => watching.stdout.text.split('\n').length > CHANGES.length, 'the changes')
    } finally {
      stop.abort()
    }
    await watching.exit
    assert.deepEqual(watching.stdout.text.trimEnd().split('\n').slice(0, CHANGES.length).map(line => JSON.parse(line)), CHANGES)
  })

  it('exits 0 when stopped', async () => {
    const stop = new AbortController()
    const watching = start(['--socket', daemon.path, 'watch'], { signal: stop.signal })
    await waitFor(() => watching.stdout.text.endsWith('had not seen it\n'), 'the changes')
    stop.abort()
    assert.equal(await watching.exit, 0)
    assert.equal(watching.stderr.text, '')
  })

  it('the real bin exits 0 on SIGINT', async () => {
    const watching = spawnCli(['--socket', daemon.path, 'watch'])
    await waitFor(() => watching.stdout.text.endsWith('had not seen it\n'), 'the changes')
    watching.kill('SIGINT')
    const { code, stderr } = await watching.exit
    assert.equal(stderr, '')
    assert.equal(code, 0)
  })
})
