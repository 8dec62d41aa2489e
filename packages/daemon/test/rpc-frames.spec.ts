/**
 * A frame too large to take, arriving in the same chunk as whole requests
 * before it: those are answered first, then the oversized frame is refused.
 * Against an RpcServer in this process, with a frame limit small enough that
 * one socket read holds it all (murmurd's 8 MiB never fits one read).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { RpcServer, createMurmur, type Murmur } from '../src/index.js'
import { RawClient } from './raw-client.js'

describe('an oversized frame after whole requests in one chunk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-frames-'))
  const socket = join(dir, 'node', 'murmurd.sock')
  const maxFrameBytes = 1024
  let node: Murmur
  let server: RpcServer

  before(async () => {
    node = await createMurmur({ name: 'frames', dataDir: join(dir, 'node'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false })
    server = new RpcServer(node, { path: socket, log: pino({ level: 'silent' }), maxFrameBytes })
    await server.listen()
    await node.put('kept', 'intact')
  })
  after(async () => {
    await server.close()
    await node.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('answers the requests before it, then refuses it with FrameTooLargeError', async () => {
    const c = await RawClient.connect(socket)
    const request = (id: number, method: string, params: unknown): string => JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n'
    c.write(request(1, 'kv_get', { key: 'kept' }) + request(2, 'kv_put', { key: 'before', value: 'x' }) +
      'a'.repeat(maxFrameBytes + 1) + '\n' + request(3, 'kv_put', { key: 'smuggled', value: 'x' }))
    await c.closed
    assert.deepEqual(c.messages.map(m => m.id), [1, 2, null], JSON.stringify(c.messages))
    assert.equal(c.messages[0].result.value, 'intact')
    assert.ok(c.messages[1].result.version, 'the put before the oversized frame was made and acknowledged')
    assert.equal(c.messages[2].error.data.name, 'FrameTooLargeError')
    assert.ok(node.get('before') !== undefined, 'the put was committed')
    assert.equal(node.get('smuggled'), undefined)
  })
})
