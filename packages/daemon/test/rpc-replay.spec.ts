/**
 * A resumed subscription's replay and the live events behind it, on an
 * RpcServer in this process with small limits: a subscription opened in a
 * batch that also writes hears its replay before the batch's own change.
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

  it('in a batch with a write: the answer, then the replay and ready, then the batch\'s own change', async () => {
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
    await c.next(m => m.params?.subscription === id && m.params.result.key === 'batch/new')
    const seen = c.messages.filter(m => Array.isArray(m) || m.params?.subscription === id)
      .map(m => Array.isArray(m) ? 'answer' : m.params.result.type === 'ready' ? 'ready' : m.params.result.key)
    assert.deepEqual(seen, ['answer', 'batch/old', 'ready', 'batch/new'])
    c.destroy()
  })
})
