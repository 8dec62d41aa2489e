/**
 * TTL and keepalive through the library API: two embedded nodes in this
 * process, on loopback, with real SQLite files.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Murmur, createMurmur, type ChangeEvent } from '../src/index.js'
import { waitFor } from './harness.js'

describe('library API: put(k, v, { ttlMs, keepalive })', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-ttl-lib-'))
  const nodes: Murmur[] = []
  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    rmSync(dir, { recursive: true, force: true })
  })
  const start = async (name: string, peers: string[] = []): Promise<Murmur> => {
    const node = await createMurmur({ name, dataDir: join(dir, name), listen: ['/ip4/127.0.0.1/tcp/0'], peers, mdns: false, dht: false })
    nodes.push(node)
    return node
  }

  it('a value with a TTL expires on both nodes, with an expire event; a bad TTL is InvalidTtlError', async () => {
    const a = await start('a')
    const b = await start('b', [a.addrs[0] as string])
    const events: ChangeEvent[] = []
    b.on('change', event => events.push(event))
    const version = await a.put('lease', 'a holds it', { ttlMs: 1_500 })
    await waitFor(() => b.get('lease') !== undefined, 'b to get the lease')
    assert.equal(b.get('lease')?.expires, version.wall + 1_500)
    await waitFor(() => a.get('lease') === undefined && b.get('lease') === undefined, 'the lease to expire', 5_000)
    assert.ok(Date.now() >= version.wall + 1_500)
    assert.deepEqual(b.list({ prefix: 'lease' }).items, [])
    await waitFor(() => events.some(e => e.type === 'expire' && e.key === 'lease'), 'the expire event', 5_000)
    assert.deepEqual(events.map(e => `${e.type} ${e.key}`), ['put lease', 'expire lease'])
    for (const ttlMs of [0, -1, 0.5, 400 * 86_400_000]) {
      await assert.rejects(a.put('bad', 'v', { ttlMs }), (err: Error & { code?: number }) => err.name === 'InvalidTtlError' && err.code === 1010)
    }
    await assert.rejects(a.put('bad', 'v', { keepalive: true }), { name: 'InvalidTtlError' })
    assert.equal(a.get('bad'), undefined)
  })

  it('a keepalive stays while its node runs, vanishes within the TTL of a stop, resumes on restart, ends with delete', async () => {
    const [a, b] = nodes as [Murmur, Murmur]
    const TTL = 2_000
    const first = await a.put('presence/a', '1.0.0', { ttlMs: TTL, keepalive: true })
    await waitFor(() => b.get('presence/a') !== undefined, 'b to see a')
    await waitFor(() => (b.get('presence/a')?.version.seq ?? 0) > first.seq + 1, 'two refreshes', 5_000)
    assert.ok(b.get('presence/a') !== undefined)
    await a.stop()
    const stopped = Date.now()
    await waitFor(() => b.get('presence/a') === undefined, 'a\'s presence to vanish', TTL + 2_000)
    assert.ok(Date.now() - stopped <= TTL + 200, `vanished ${Date.now() - stopped} ms after the stop`)
    const again = new Murmur({ name: 'a', dataDir: join(dir, 'a'), listen: ['/ip4/127.0.0.1/tcp/0'], peers: [b.addrs[0] as string], mdns: false, dht: false })
    nodes[0] = again
    await again.start()
    await waitFor(() => b.get('presence/a') !== undefined, 'a\'s presence back after its restart', 10_000)
    await again.delete('presence/a')
    await waitFor(() => b.get('presence/a') === undefined, 'the delete on b')
    await new Promise(resolve => setTimeout(resolve, TTL))
    assert.equal(again.get('presence/a'), undefined, 'no refresh after the delete')
  })

  it('a later write of the key in the same writeMany ends the keepalive a put in it started', async () => {
    const c = await start('c')
    await c.put('held/deleted', 'was here')
    const TTL = 2_000
    const settled = await c.writeMany([
      { key: 'held/put', value: 'kept alive', ttlMs: TTL, keepalive: true }, { key: 'held/put', value: 'plain' },
      { key: 'held/deleted', value: 'kept alive', ttlMs: TTL, keepalive: true }, { key: 'held/deleted', value: null }
    ])
    assert.deepEqual(settled.map(s => s.status), ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'])
    assert.deepEqual(c.status().keepalives, [], 'the later put and delete each ended it')
    // past two refresh periods: nothing wrote the first value back
    const quiet = Date.now() + TTL
    while (Date.now() < quiet) {
      assert.equal(Buffer.from(c.get('held/put')?.value ?? []).toString(), 'plain')
      assert.equal(c.get('held/deleted'), undefined)
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  })

  it('a keepalive of a TTL longer than a timer holds is not refreshed in a loop', async () => {
    const c = nodes.find(node => node.name === 'c') ?? await start('c')
    // a third of 100 days is past setTimeout's 2^31 - 1 ms, which Node fires after 1 ms instead
    const first = await c.put('held/long', 'v', { ttlMs: 100 * 86_400_000, keepalive: true })
    const quiet = Date.now() + 500
    while (Date.now() < quiet) {
      assert.equal(c.get('held/long')?.version.seq, first.seq, 'not refreshed yet')
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    await c.delete('held/long')
  })
})
