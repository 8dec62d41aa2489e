/**
 * A snapshot cut short: `murmurctl watch` that loses murmurd in the middle
 * of a snapshot of several pages resumes from where it stood before it, so
 * it prints the whole current state again rather than skip the pages it
 * never got.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, describe, it } from 'node:test'
import { MurmurClient } from '@murmur/protocol/client'
import { MURMURCTL, TestCluster, waitFor } from './harness.js'

describe('murmurctl watch across a snapshot cut short', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('prints every key of the state after murmurd went away between two snapshot pages', async () => {
    const alice = await cluster.start('alice')
    const keys = Array.from({ length: 8000 }, (_, i) => `big/${String(i).padStart(4, '0')}`)
    const value = 'v'.repeat(1024) // pages of 1000 entries: about 1 MiB each
    const client = await MurmurClient.connect(alice.socket)
    try {
      for (let i = 0; i < keys.length; i += 500) {
        const results = await client.batch(keys.slice(i, i + 500).map(key => ({ method: 'kv_put', params: { key, value } })))
        assert.ok(results.every(r => r.error === undefined))
      }
    } finally {
      client.close()
    }
    // a cursor above any given: a snapshot, in eight pages
    const child = spawn(process.execPath, [MURMURCTL, '--socket', alice.socket, 'watch', '--prefix', 'big/', '--since', String(2 ** 52)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const exited = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
    try {
      // not read: murmurctl blocks printing the first page, with the others unread in murmurd's socket
      child.stdout.pause()
      await waitFor(() => child.stdout.readableLength >= child.stdout.readableHighWaterMark, 'murmurctl to fill its stdout')
      assert.equal(await alice.stop('SIGKILL'), null)
      await alice.start()
      let out = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      child.stdout.resume()
      await waitFor(() => err.includes('reached murmurd'), 'the watch to resume')
      await alice.put('big/zz-live', 'after')
      await waitFor(() => out.includes('big/zz-live'), 'the live change', 20_000)
      const printed = new Set(out.split('\n').filter(l => l.startsWith('snapshot ')).map(l => l.slice('snapshot '.length).split(' = ')[0]))
      assert.deepEqual(keys.filter(key => !printed.has(key)), [])
    } finally {
      child.kill('SIGINT')
      assert.equal(await exited, 0)
    }
  })
})
