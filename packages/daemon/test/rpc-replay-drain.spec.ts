/**
 * A replay's queue waits for the socket's 'drain' once half the unread
 * limit waits in it; a socket emits 'drain' only after a write that passed
 * its high-water mark (16 KiB on Node 20). An `RpcServer` whose
 * `maxUnreadBytes` was under twice that (a library's choice: murmurd keeps
 * 64 MiB) waited for a 'drain' that never came, and the replay stalled for
 * good, though the client read everything. In-process server on a real
 * socket, as murmurd has no option for the limit.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { RpcServer, createMurmur, type Murmur } from '../src/index.js'
import { RawClient } from './raw-client.js'

/** Under twice a socket's default high-water mark (16 KiB on Node 20, 64 KiB from Node 22). */
const MAX_UNREAD = 16 * 1024

describe('a replay on a server whose unread limit is under twice a socket\'s high-water mark', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-drain-'))
  const socket = join(dir, 'node', 'murmurd.sock')
  let node: Murmur
  let server: RpcServer

  before(async () => {
    node = await createMurmur({ name: 'drain', dataDir: join(dir, 'node'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false })
    server = new RpcServer(node, { path: socket, log: pino({ level: 'silent' }), maxUnreadBytes: MAX_UNREAD })
    await server.listen()
  })
  after(async () => {
    await server.close()
    await node.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('reaches ready for a client that reads all it is sent', async () => {
    // 2 MiB: more than the kernel takes of a socket at once, so the queue waits on the socket while the client reads
    await node.writeMany(Array.from({ length: 2000 }, (_, i) => ({ key: `d/${String(i).padStart(4, '0')}`, value: 'v'.repeat(1024) })))
    const c = await RawClient.connect(socket)
    try {
      const id = (await c.request('kv_subscribe', { since: 0, prefix: 'd/' })).result
      const ready = await c.next(m => m.params?.subscription === id && m.params.result.type === 'ready', 30_000).catch(() => undefined)
      const told = c.messages.filter(m => m.params?.subscription === id && m.params.result.type === 'put').length
      assert.ok(ready !== undefined, `the replay stalled after ${told} of 2000 changes, the client reading all it was sent`)
      assert.equal(told, 2000)
    } finally {
      c.destroy()
    }
  })
})
