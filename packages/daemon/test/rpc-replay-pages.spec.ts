/**
 * A resumed subscription's replay read from the store a page at a time while
 * writes go on (in-process server, a page of two changes): a client stalls
 * the replay by not reading, writes land in what it has not read yet and in
 * what it has, and every change is still told once, in cursor order, with
 * the handover to live events exact.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { RpcServer, createMurmur, type Murmur } from '../src/index.js'
import { RawClient } from './raw-client.js'

describe('a replay read a page at a time while writes go on', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-pages-'))
  const socket = join(dir, 'node', 'murmurd.sock')
  let node: Murmur
  let server: RpcServer

  before(async () => {
    node = await createMurmur({ name: 'pages', dataDir: join(dir, 'node'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false })
    server = new RpcServer(node, { path: socket, log: pino({ level: 'silent' }), maxUnreadBytes: 256 * 1024, replayPageSize: 2 })
    await server.listen()
  })
  after(async () => {
    await server.close()
    await node.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  /**
   * 600 keys under `prefix`, then a client that subscribes with `since` and reads nothing while these land:
   * `<prefix>599` changed and `<prefix>598` deleted (ahead of where the stalled replay is), `<prefix>000`
   * changed (behind it), `<prefix>new` written; then it reads it all, and one live put follows ready.
   */
  async function replayDuringWrites (prefix: string, since: number): Promise<{ results: any[], ready: number, value: string }> {
    const value = 'v'.repeat(1024) // 600 KiB: far more than the socket holds while the client does not read
    await node.writeMany(Array.from({ length: 600 }, (_, i) => ({ key: `${prefix}${String(i).padStart(3, '0')}`, value })))
    const c = await RawClient.connect(socket)
    c.socket.pause()
    c.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'kv_subscribe', params: { since, prefix } }) + '\n')
    await node.put(`${prefix}599`, 'changed mid-replay')
    await node.delete(`${prefix}598`)
    await node.put(`${prefix}000`, 'changed after it was replayed')
    await node.put(`${prefix}new`, 'new mid-replay')
    c.socket.resume()
    const id = (await c.next(m => m.id === 1, 60_000)).result
    await c.next(m => m.params?.subscription === id && m.params.result.type === 'ready', 60_000)
    await node.put(`${prefix}live`, 'after ready')
    await c.next(m => m.params?.subscription === id && m.params.result.key === `${prefix}live`, 60_000)
    c.destroy()
    const results = c.messages.filter(m => m.params?.subscription === id).map(m => m.params.result)
    return { results, ready: results.findIndex(r => r.type === 'ready'), value }
  }

  /** The node's entries under `prefix`, as [key, value] pairs in key order. */
  const held = (prefix: string): Array<[string, string]> => node.list({ prefix, limit: 10_000 }).items.map(e => [e.key, Buffer.from(e.value).toString()])

  it('tells every change once, in cursor order: a write to a key not replayed yet in the replay, never again live', async () => {
    const { results, ready, value } = await replayDuringWrites('p/', 0)
    const told = results.filter(r => r.type !== 'ready')
    const cursors = told.map(r => r.cursor as number)
    assert.ok(cursors.every((cursor, i) => i === 0 || cursor > (cursors[i - 1] as number)), 'in cursor order, none twice')
    const of = (key: string): Array<[string, unknown]> => told.filter(r => r.key === key).map(r => [r.type, r.value])
    assert.deepEqual(of('p/599'), [['put', 'changed mid-replay']], 'replayed once, as it is now, and not told again live')
    assert.deepEqual(of('p/598'), [['delete', undefined]])
    assert.deepEqual(of('p/000'), [['put', value], ['put', 'changed after it was replayed']])
    assert.deepEqual(of('p/new'), [['put', 'new mid-replay']])
    assert.ok(results.findIndex(r => r.key === 'p/599') < ready, 'the write made mid-replay is in the replay')
    assert.deepEqual(results.slice(ready + 1).map(r => r.key), ['p/live'])
    // what the client holds from these is what the node holds
    const client = new Map<string, unknown>()
    for (const r of told) r.type === 'delete' ? client.delete(r.key) : client.set(r.key, r.value)
    assert.deepEqual([...client.entries()].sort(), held('p/'))
  })

  it('a snapshot read a page at a time: each key once, as it was read; a change to a key already sent is told after ready', async () => {
    // a cursor this node never gave: the current state instead of changes
    const { results, ready, value } = await replayDuringWrites('s/', Number.MAX_SAFE_INTEGER)
    const pages = results.slice(0, ready)
    assert.ok(pages.length > 100 && pages.every((r, i) => r.type === 'snapshot' && r.entries.length <= 2 && r.last === (i === pages.length - 1)), 'pages of two entries, the last marked')
    const entries = pages.flatMap(r => r.entries)
    assert.equal(new Set(entries.map(e => e.key)).size, entries.length, 'each key once')
    const snapshot = new Map(entries.map(e => [e.key, e.value]))
    assert.equal(snapshot.get('s/599'), 'changed mid-replay')
    assert.equal(snapshot.has('s/598'), false)
    assert.equal(snapshot.get('s/000'), value)
    assert.equal(snapshot.get('s/new'), 'new mid-replay')
    const live = results.slice(ready + 1)
    assert.deepEqual(live.map(r => [r.key, r.value]), [['s/000', 'changed after it was replayed'], ['s/live', 'after ready']])
    for (const r of live) snapshot.set(r.key, r.value)
    assert.deepEqual([...snapshot.entries()].sort(), held('s/'))
  })
})
