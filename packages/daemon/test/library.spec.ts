/**
 * The embeddable library API: two real nodes in this process, on loopback,
 * with real SQLite files.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { Murmur, createMurmur, type ChangeEvent, type Write } from '../src/index.js'
import { waitFor } from './harness.js'

const text = (bytes?: Uint8Array): string | undefined => bytes == null ? undefined : Buffer.from(bytes).toString()

describe('library API (createMurmur)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-lib-'))
  const nodes: Murmur[] = []
  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    rmSync(dir, { recursive: true, force: true })
  })

  it('refuses peer links below 1 or not whole with a RangeError, before it makes the data dir', async () => {
    for (const bad of [0, -1, 2.5, Number.NaN]) {
      await assert.rejects(createMurmur({ name: 'x', dataDir: join(dir, 'links'), peerLinks: bad }), { name: 'RangeError', message: /^peerLinks must be a whole number of at least 1/ }, String(bad))
    }
    assert.equal(existsSync(join(dir, 'links')), false)
  })

  it('refuses a link swap interval below 0 or not whole with a RangeError', async () => {
    for (const bad of [-1, 2.5, Number.NaN]) {
      await assert.rejects(createMurmur({ name: 'x', dataDir: join(dir, 'rotate'), peerRotateMs: bad }), { name: 'RangeError', message: /^peerRotateMs must be a whole number of ms/ }, String(bad))
    }
    assert.equal(existsSync(join(dir, 'rotate')), false)
  })

  it('two embedded nodes replicate puts and deletes, and emit change events', async () => {
    const a = await createMurmur({ name: 'a', dataDir: join(dir, 'a'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false })
    nodes.push(a)
    await a.put('config:mode', 'embedded')
    const b = await createMurmur({ name: 'b', dataDir: join(dir, 'b'), listen: ['/ip4/127.0.0.1/tcp/0'], peers: [a.addrs[0] as string], mdns: false, dht: false })
    nodes.push(b)
    const events: ChangeEvent[] = []
    b.on('change', event => events.push(event))

    await waitFor(() => text(b.get('config:mode')?.value) === 'embedded', 'b to sync from a')
    const version = await a.put('config:level', new Uint8Array([1, 2, 3]))
    await waitFor(() => b.get('config:level') != null, 'gossip from a to b')
    assert.deepEqual(b.get('config:level')?.version, version)
    assert.deepEqual([...(b.get('config:level')?.value ?? [])], [1, 2, 3])

    const deleted = await a.delete('config:mode')
    assert.equal(deleted.deleted, true)
    assert.equal(deleted.version?.origin, a.peerId)
    assert.deepEqual(await a.delete('config:mode'), { deleted: false }, 'nothing left to delete')
    await waitFor(() => b.get('config:mode') == null, 'the delete to reach b')
    assert.deepEqual(events.map(e => `${e.type} ${e.key} ${e.source === a.peerId ? 'from-a' : e.source}`), [
      'put config:mode from-a', 'put config:level from-a', 'delete config:mode from-a'
    ])
    assert.deepEqual(b.list().items.map(e => e.key), ['config:level'])
    assert.equal(b.peers().find(p => p.id === a.peerId)?.name, 'a')
    assert.equal(b.status().peers, 1)
    assert.equal(b.status().coordinator, [a.peerId, b.peerId].sort()[0])
  })

  it('writeMany() commits puts and deletes together, each settling as its own call would', async () => {
    const d = await createMurmur({ name: 'd', dataDir: join(dir, 'd'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, maxValueBytes: 8 })
    nodes.push(d)
    await d.put('old', 'x')
    const changes: string[] = []
    d.on('change', event => changes.push(`${event.type} ${event.key}`))
    const settled = await d.writeMany([
      { key: 'a', value: 'A' },
      { key: '', value: 'empty key' },
      { key: 'old', value: null },
      { key: 'missing', value: null },
      { key: 'big', value: 'too large' },
      { key: 'b', value: new Uint8Array([1]) }
    ])
    assert.deepEqual(settled.map(s => s.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
    const value = (i: number): any => (settled[i] as PromiseFulfilledResult<unknown>).value
    const reason = (i: number): any => (settled[i] as PromiseRejectedResult).reason
    assert.equal(value(0).origin, d.peerId)
    assert.equal(reason(1).name, 'InvalidParamsError')
    assert.equal(value(2).deleted, true)
    assert.deepEqual(value(3), { deleted: false })
    assert.equal(reason(4).name, 'ValueTooLargeError')
    assert.equal(value(5).seq, value(2).version.seq + 1, 'one sequence, in order')
    assert.deepEqual(changes, ['put a', 'delete old', 'put b'])
    assert.equal(text(d.get('a')?.value), 'A')
    assert.equal(d.get('old'), undefined)
  })

  it('put() takes a value type and a condition; writeMany() refuses a failed condition alone', async () => {
    const a = nodes[0] as Murmur
    await assert.rejects(a.put('doc', '{"a":', { type: 'json' }), (err: any) => err.name === 'InvalidJsonError' && err.code === 1007 && err.data.position === 5)
    await assert.rejects(a.put('doc', new Uint8Array([0xff]), { type: 'json' }), { name: 'InvalidJsonError' })
    const v1 = await a.put('doc', '{"a":1}', { type: 'json' })
    assert.equal(a.get('doc')?.type, 'json')
    assert.equal(a.get('config:level')?.type, 'text')
    await assert.rejects(a.put('doc', '2', { ifAbsent: true }), (err: any) => err.name === 'ConditionFailedError' && err.code === 1006 && err.data.current.seq === v1.seq)
    await assert.rejects(a.delete('nothing', { ifVersion: { origin: a.peerId, seq: 1 } }), (err: any) => err.name === 'ConditionFailedError' && err.data.current === null)
    const settled = await a.writeMany([
      { key: 'doc', value: '{"a":2}', type: 'json', ifVersion: { origin: v1.origin, seq: v1.seq } },
      { key: 'doc', value: '{"a":3}', type: 'json', ifVersion: { origin: v1.origin, seq: v1.seq } },
      { key: 'other', value: 'x' }
    ])
    assert.deepEqual(settled.map(s => s.status), ['fulfilled', 'rejected', 'fulfilled'])
    assert.equal(text(a.get('doc')?.value), '{"a":2}')
    await assert.rejects(a.put('doc', '{"a":4}', { type: 'json', ifVersion: { origin: v1.origin, seq: v1.seq, wall: v1.wall } }), { name: 'ConditionFailedError' })
  })

  it('a schema governs put(), conditional puts and writeMany() alike, each refused write alone', async () => {
    const a = nodes[0] as Murmur
    await assert.rejects(a.put('_schema/lib/', '{"type":"nope"}', { type: 'json' }), (err: any) => err.name === 'InvalidSchemaError' && err.code === 1009)
    await a.put('_schema/lib/', '{"type":"integer"}', { type: 'json' })
    await assert.rejects(a.put('lib/n', '"x"', { type: 'json' }), (err: any) => err.name === 'SchemaViolationError' && err.code === 1008 && err.data.prefix === 'lib/')
    await assert.rejects(a.put('lib/n', '"x"', { type: 'json', ifAbsent: true }), { name: 'SchemaViolationError' })
    const settled = await a.writeMany([{ key: 'lib/a', value: '1', type: 'json' }, { key: 'lib/b', value: 'x' }, { key: 'lib/c', value: '3' }])
    assert.deepEqual(settled.map(s => s.status), ['fulfilled', 'rejected', 'fulfilled'])
    await a.delete('_schema/lib/')
  })

  it('connect() dials a peer on demand and reports bad addresses as named errors', async () => {
    const c = await createMurmur({ name: 'c', dataDir: join(dir, 'c'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false })
    nodes.push(c)
    const a = nodes[0] as Murmur
    assert.equal(await c.connect(a.addrs[0] as string), a.peerId)
    await waitFor(() => text(c.get('config:level')?.value) != null, 'c to sync after connect()')
    await assert.rejects(c.connect('nonsense'), { name: 'InvalidParamsError' })
    await assert.rejects(c.connect('/ip4/127.0.0.1/tcp/1'), { name: 'DialError' })
  })

  it('backup() writes a consistent copy to a new file, marked as this node\'s, and never over an existing one', async () => {
    const e = await createMurmur({ name: 'e', dataDir: join(dir, 'e'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false })
    try {
      await e.put('k', 'v')
      const file = join(dir, 'e.backup')
      let steps = 0
      const made = await e.backup(file, () => { steps++ })
      assert.ok(made.bytes > 0 && made.pages > 0 && steps > 0 && /^[0-9a-f]{64}$/.test(made.sha256), JSON.stringify(made))
      const copy = new Database(file, { readonly: true })
      try {
        assert.equal((copy.prepare("SELECT value FROM kv_store WHERE key = 'k'").get() as { value: Buffer }).value.toString(), 'v')
        assert.equal((copy.prepare("SELECT value FROM meta WHERE name = 'backup_of'").get() as { value: string }).value, e.peerId)
        assert.equal(copy.pragma('journal_mode', { simple: true }), 'delete', 'the copy stands alone, with no WAL')
      } finally {
        copy.close()
      }
      await assert.rejects(e.backup(file), /already exists; a backup is written to a new file/)
    } finally {
      await e.stop()
    }
  })

  it('stop() lets the writes it finds in flight commit, and refuses later ones as NotStartedError', async () => {
    const f = await createMurmur({ name: 'f', dataDir: join(dir, 'f'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false })
    const puts = Array.from({ length: 20 }, async (_, i) => await f.put(`inflight/${i}`, 'v'))
    const many = f.writeMany([{ key: 'inflight/many', value: 'v' }])
    puts.push(f.put('inflight/presence', 'v', { ttlMs: 60_000, keepalive: true }))
    await f.stop()
    assert.deepEqual((await Promise.allSettled(puts)).map(s => s.status === 'rejected' ? s.reason.name : s.status), puts.map(() => 'fulfilled'))
    assert.deepEqual((await many).map(s => s.status), ['fulfilled'])
    await assert.rejects(f.put('inflight/late', 'v'), { name: 'NotStartedError' })
    await f.start()
    try {
      assert.equal(f.list({ prefix: 'inflight/' }).items.length, 22, 'every write answered before stop() is on disk')
      assert.deepEqual(f.status().keepalives, [{ key: 'inflight/presence', ttlMs: 60_000 }], 'and a keepalive among them is resumed')
    } finally {
      await f.stop()
    }
  })

  it('a second node in this process on a data dir in use is DataDirLockedError, and the first keeps its lock', async () => {
    const a = nodes[0] as Murmur
    // stopped should it start, so a failure here does not leave it running
    const second = createMurmur({ name: 'a2', dataDir: a.dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false }).then(async node => { await node.stop() })
    await assert.rejects(second, { name: 'DataDirLockedError', message: /in use by another murmur node in this process/ })
    assert.ok(existsSync(join(a.dataDir, 'murmurd.pid')), 'the refused node left the lock in place')
    await a.put('still', 'mine')
  })

  it('a node that is not started says so', async () => {
    const idle = new Murmur({ name: 'idle', dataDir: join(dir, 'idle') })
    assert.throws(() => idle.get('x'), { name: 'NotStartedError' })
    await assert.rejects(idle.put('x', 'y'), { name: 'NotStartedError' })
  })

  it('refuses keys and values outside the limits', async () => {
    const a = nodes[0] as Murmur
    await assert.rejects(a.put('', 'v'), { name: 'InvalidParamsError' })
    await assert.rejects(a.put('k'.repeat(1025), 'v'), { name: 'InvalidParamsError', message: 'key must be at most 1024 bytes of UTF-8' })
    // 342 characters of 3 bytes each: 1,026 bytes, though the string's length is well under the limit
    await assert.rejects(a.put('€'.repeat(342), 'v'), { name: 'InvalidParamsError', message: 'key must be at most 1024 bytes of UTF-8' })
    await a.put('€'.repeat(341), 'v')
    await assert.rejects(a.put('\u0000attest/x', 'v'), { name: 'InvalidParamsError', message: /must not start with U\+0000/ })
    await assert.rejects(a.put('k\uD800', 'v'), { name: 'InvalidParamsError', message: /valid UTF-8/ })
    // a caller without types: a clear error, not a crash
    await assert.rejects(a.put(42 as unknown as string, 'v'), { name: 'InvalidParamsError', message: /expected string/ })
    await assert.rejects(a.put('k', new Uint8Array(a.maxValueBytes + 1)), { name: 'ValueTooLargeError' })
  })

  it('refuses a value or type a caller without types got wrong alone, never failing or deleting other writes', async () => {
    const a = nodes[0] as Murmur
    await a.put('kept', 'v')
    const untyped = a.put.bind(a) as (key: string, value: unknown, options?: unknown) => Promise<unknown>
    const settled = await Promise.allSettled([a.put('ok1', 'v'), untyped('bad', 'v', { type: 'xml' }), untyped('bad', 42), a.put('ok2', 'v')])
    assert.deepEqual(settled.map(s => s.status === 'rejected' ? s.reason.name : s.status), ['fulfilled', 'InvalidParamsError', 'InvalidParamsError', 'fulfilled'])
    assert.equal(text(a.get('ok1')?.value), 'v')
    await assert.rejects(untyped('kept', null), { name: 'InvalidParamsError' })
    await assert.rejects(untyped('kept', undefined), { name: 'InvalidParamsError' })
    const many = await a.writeMany([{ key: 'ok3', value: 'v' }, { key: 'kept' } as unknown as Write, { key: 'bad', value: 'v', type: 'xml' as 'text' }])
    assert.deepEqual(many.map(s => s.status === 'rejected' ? s.reason.name : s.status), ['fulfilled', 'InvalidParamsError', 'InvalidParamsError'])
    assert.equal(text(a.get('kept')?.value), 'v', 'a put without a value deletes nothing')
  })

  it('list() and history() refuse a limit that is not a whole number of at least 1, rather than end the listing early', async () => {
    const a = nodes[0] as Murmur
    await a.put('kept', 'again')
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => a.list({ limit }), { name: 'InvalidParamsError', message: /^limit must be a whole number/ }, `list ${limit}`)
      assert.throws(() => a.history('kept', { limit }), { name: 'InvalidParamsError' }, `history ${limit}`)
    }
    assert.equal(a.list({ limit: 1 }).items.length, 1)
    assert.equal(a.history('kept', { limit: 2 }).length, 2)
  })
})
