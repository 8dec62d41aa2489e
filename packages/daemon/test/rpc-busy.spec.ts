/**
 * Requests beyond the in-flight limit, on an RpcServer in this process with a
 * small limit, from the typed client: each refused call fails with
 * TooBusyError, named by its id, rather than wait for an answer forever.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { MurmurClient } from '@murmur/protocol/client'
import { RpcServer, createMurmur, type Murmur } from '../src/index.js'
import { waitFor } from './harness.js'

describe('requests beyond the in-flight limit (in-process server)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-busy-'))
  const socket = join(dir, 'node', 'murmurd.sock')
  let node: Murmur
  let server: RpcServer

  before(async () => {
    node = await createMurmur({ name: 'busy', dataDir: join(dir, 'node'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false })
    server = new RpcServer(node, { path: socket, log: pino({ level: 'silent' }), maxInFlight: 4 })
    await server.listen()
  })
  after(async () => {
    await server.close()
    await node.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('fails each refused call with TooBusyError and answers the rest', async () => {
    const client = await MurmurClient.connect(socket)
    try {
      const outcomes: Array<string | undefined> = new Array(20)
      const calls = Array.from({ length: 20 }, async (_, i) => {
        await client.call('kv_put', { key: `busy/${i}`, value: String(i) })
          .then(() => { outcomes[i] = 'ok' }, (err: Error) => { outcomes[i] = err.name })
      })
      await waitFor(() => outcomes.filter(o => o !== undefined).length === 20, 'every call to settle', 5_000)
      await Promise.all(calls)
      assert.ok(outcomes.every(o => o === 'ok' || o === 'TooBusyError'), String(outcomes))
      assert.ok(outcomes.includes('TooBusyError'))
      const held = await client.call('kv_list', { prefix: 'busy/' })
      assert.deepEqual(held.items.map(e => e.key).sort(), outcomes.flatMap((o, i) => o === 'ok' ? [`busy/${i}`] : []).sort())
    } finally {
      client.close()
    }
  })
})
