/**
 * A resumed subscription's replay and the live events behind it, on an
 * RpcServer in this process with small limits: a subscription opened in a
 * batch that also writes hears its replay, which reads on to the batch's
 * own change (told once, before ready),
 * a client that half-closes gets the whole replay before the server closes,
 * and a client that stops reading in the middle of a replay is dropped once
 * what waits for it passes the unread limit, not kept growing.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { RpcServer, createMurmur, type Murmur } from '../src/index.js'
import { waitFor } from './harness.js'
import { RawClient } from './raw-client.js'

describe('a resumed subscription\'s replay (in-process server, small limits)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-replay-'))
  const socket = join(dir, 'node', 'murmurd.sock')
  const logs: any[] = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { logs.push(JSON.parse(line)) } })
  const clients: RawClient[] = []
  let node: Murmur
  let server: RpcServer

  const client = async (): Promise<RawClient> => {
    const c = await RawClient.connect(socket)
    clients.push(c)
    return c
  }

  before(async () => {
    node = await createMurmur({ name: 'replay', dataDir: join(dir, 'node'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false })
    server = new RpcServer(node, { path: socket, log, maxUnreadBytes: 1024 * 1024 })
    await server.listen()
  })
  after(async () => {
    for (const c of clients) c.destroy()
    await server.close()
    await node.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('in a batch with a write: the answer, then the replay (which reads on to the batch\'s own change) and ready, each change once', async () => {
    const c = await client()
    const { result: first } = await c.request('kv_subscribe', { since: 'now', prefix: 'batch/' })
    const cursor = (await c.next(m => m.params?.subscription === first && m.params.result.type === 'ready')).params.result.cursor
    assert.ok((await c.request('kv_put', { key: 'batch/old', value: 'before' })).result)
    c.write(JSON.stringify([
      { jsonrpc: '2.0', id: 'sub', method: 'kv_subscribe', params: { since: cursor, prefix: 'batch/' } },
      { jsonrpc: '2.0', id: 'put', method: 'kv_put', params: { key: 'batch/new', value: 'in the batch' } }
    ]) + '\n')
    const answers = await c.next(m => Array.isArray(m))
    const id = answers.find((a: any) => a.id === 'sub').result
    await c.next(m => m.params?.subscription === id && m.params.result.type === 'ready')
    // a live change after ready, to see that batch/new is not told again
    assert.ok((await c.request('kv_put', { key: 'batch/after', value: 'live' })).result)
    await c.next(m => m.params?.subscription === id && m.params.result.key === 'batch/after')
    const seen = c.messages.filter(m => Array.isArray(m) || m.params?.subscription === id)
      .map(m => Array.isArray(m) ? 'answer' : m.params.result.type === 'ready' ? 'ready' : m.params.result.key)
    assert.deepEqual(seen, ['answer', 'batch/old', 'batch/new', 'ready', 'batch/after'])
    c.destroy()
  })

  it('sends a client that half-closes after kv_subscribe with since the whole replay and ready before closing', async () => {
    const writer = await client()
    const { result: first } = await writer.request('kv_subscribe', { since: 'now', prefix: 'half/' })
    const cursor = (await writer.next(m => m.params?.subscription === first && m.params.result.type === 'ready')).params.result.cursor
    const value = 'h'.repeat(64 * 1024)
    for (let i = 0; i < 32; i++) assert.ok((await writer.request('kv_put', { key: `half/${i}`, value })).result) // 2 MiB: more than the socket takes at once
    writer.destroy()
    const c = await client()
    c.socket.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'kv_subscribe', params: { since: cursor, prefix: 'half/' } }) + '\n')
    await c.closed
    const results = c.messages.filter(m => m.method === 'kv_subscription').map(m => m.params.result)
    assert.equal(results.filter(r => r.type === 'put').length, 32)
    assert.equal(results.at(-1)?.type, 'ready')
  })

  it('drops a client that stops reading in the middle of a replay once live events behind it pass the unread limit', async () => {
    const writer = await client()
    const { result: first } = await writer.request('kv_subscribe', { since: 'now', prefix: 'slow/' })
    const cursor = (await writer.next(m => m.params?.subscription === first && m.params.result.type === 'ready')).params.result.cursor
    assert.ok((await writer.request('kv_unsubscribe', { subscription: first })).result)
    const value = 's'.repeat(64 * 1024)
    for (let i = 0; i < 48; i++) assert.ok((await writer.request('kv_put', { key: `slow/${i}`, value })).result) // 3 MiB to replay
    const slow = await client()
    slow.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'kv_subscribe', params: { since: cursor, prefix: 'slow/' } }) + '\n')
    slow.socket.pause() // reads no more: the replay stalls at half the limit
    // live changes pile up behind the stalled replay: 64 × 64 KiB, four times the limit
    for (let i = 0; i < 64 && !logs.some(l => /not reading/.test(l.msg)); i++) {
      assert.ok((await writer.request('kv_put', { key: `slow/live/${i}`, value })).result)
    }
    await waitFor(() => logs.some(l => /not reading/.test(l.msg)), 'the slow reader to be dropped', 5_000)
    const closed = slow.closed
    slow.socket.resume()
    await closed
    writer.destroy()
  })
})
