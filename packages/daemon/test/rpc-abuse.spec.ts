/**
 * The local socket under abuse: the per-connection limits against an
 * RpcServer in this process, with limits small enough to hit quickly and its
 * log captured. After every abuse
 * another client must still get answers, and the data written so far must be
 * intact. (Who may reach the socket: socket-owner.spec.ts; murmurd out of
 * file descriptors: descriptor-limit.spec.ts.)
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { RpcServer, createMurmur, type Murmur } from '../src/index.js'
import { waitFor } from './harness.js'
import { RawClient } from './raw-client.js'

describe('RPC limits under abuse (in-process server, small limits)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-abuse-'))
  const socket = join(dir, 'node', 'murmurd.sock')
  const logs: any[] = []
  const log = pino({ level: 'debug' }, { write: (line: string) => { logs.push(JSON.parse(line)) } })
  const limits = { maxConnections: 8, frameTimeoutMs: 500, maxInFlight: 8, maxSubscriptions: 4, maxUnreadBytes: 1024 * 1024, maxFrameBytes: 64 * 1024 }
  /** Everything written through the socket so far, to check that nothing else changed. */
  const written = new Map<string, string>([['kept', 'intact']])
  const clients: RawClient[] = []
  let node: Murmur
  let server: RpcServer

  const client = async (): Promise<RawClient> => {
    const c = await RawClient.connect(socket)
    clients.push(c)
    return c
  }

  /** Another client gets answers, can write, and every key holds what was written. */
  const assertServing = async (): Promise<void> => {
    // a connection just closed by a client may still count against the limit for a moment
    const c = await waitFor(async () => {
      const c = await client()
      if ((await c.request('kv_get', { key: 'kept' }).catch(() => undefined))?.result?.value === 'intact') return c
      c.destroy()
    }, 'a connection that is answered')
    const key = `health:${written.size}`
    assert.ok((await c.request('kv_put', { key, value: 'ok' })).result?.version, 'a put succeeds')
    written.set(key, 'ok')
    const { result } = await c.request('kv_list', {})
    assert.deepEqual(Object.fromEntries(result.items.map((e: any) => [e.key, e.value])), Object.fromEntries(written))
    c.destroy()
  }

  const logged = async (reason: string): Promise<any> =>
    await waitFor(() => logs.find(l => l.reason === reason && l.level === 40), `a warning about ${reason}`, 5_000)

  before(async () => {
    node = await createMurmur({ name: 'abuse', dataDir: join(dir, 'node'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false })
    server = new RpcServer(node, { path: socket, log, ...limits })
    await server.listen()
    await node.put('kept', 'intact')
  })
  after(async () => {
    for (const c of clients) c.destroy()
    await server.close()
    await node.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('answers connection N+1 with TooBusyError and closes it, while the first N keep working', async () => {
    const held = await Promise.all(Array.from({ length: limits.maxConnections }, async () => await client()))
    assert.equal((await held[0]?.request('kv_get', { key: 'kept' })).result.value, 'intact', 'the connections are accepted')
    const extra = await client()
    const refusal = await extra.next(m => m.error != null)
    assert.equal(refusal.error.code, -32600)
    assert.equal(refusal.error.data.name, 'TooBusyError')
    assert.match(refusal.error.message, /too many connections.*limit 8/)
    await extra.closed
    const warning = await logged('TooBusyError')
    assert.match(warning.msg, /too many connections/)
    for (const c of held) assert.equal((await c.request('kv_get', { key: 'kept' })).result.value, 'intact')
    for (const c of held) c.destroy()
    await assertServing()
  })

  it('closes a client that dribbles a frame for longer than the frame deadline (slowloris)', async () => {
    const slow = await client()
    const started = Date.now()
    const request = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'kv_get', params: { key: 'kept' } })
    const dribble = (async () => {
      for (let i = 0; i < request.length && !slow.isClosed && Date.now() - started < 5_000; i++) {
        slow.write(request[i] as string)
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    })()
    await assertServing() // others are served meanwhile
    const closing = await slow.next(m => m.error != null)
    assert.equal(closing.error.data.name, 'FrameTimeoutError')
    assert.match(closing.error.message, /not completed within 500 ms/)
    await slow.closed
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 500 && elapsed < 3_000, `closed after ${elapsed} ms`)
    await dribble
    assert.equal(slow.messages.length, 1, 'nothing of the partial frame was answered')
    await logged('FrameTimeoutError')
    await assertServing()
  })

  it('closes a client that holds a partial frame without sending more', async () => {
    const holder = await client()
    holder.write('{"jsonrpc":"2.0","id":1,"method":"kv_get","par')
    const closing = await holder.next(m => m.error != null, 3_000)
    assert.equal(closing.error.data.name, 'FrameTimeoutError')
    await holder.closed
    await assertServing()
  })

  it('gives each frame its own deadline: a slow but steady client is served', async () => {
    const steady = await client()
    const frame = (id: number): string => JSON.stringify({ jsonrpc: '2.0', id, method: 'kv_get', params: { key: 'kept' } }) + '\n'
    const [a, b, c] = [frame(1), frame(2), frame(3)]
    // each frame completes within 500 ms of its first byte; the whole exchange takes longer
    steady.write(a.slice(0, 20))
    await new Promise(resolve => setTimeout(resolve, 300))
    steady.write(a.slice(20) + b.slice(0, 20))
    await new Promise(resolve => setTimeout(resolve, 300))
    steady.write(b.slice(20) + c.slice(0, 20))
    await new Promise(resolve => setTimeout(resolve, 300))
    steady.write(c.slice(20))
    for (const id of [1, 2, 3]) assert.equal((await steady.next(m => m.id === id)).result.value, 'intact')
    await new Promise(resolve => setTimeout(resolve, 700))
    assert.equal(steady.isClosed, false, 'an idle connection with no partial frame stays open')
    assert.equal((await steady.request('kv_get', { key: 'kept' })).result.value, 'intact')
  })

  it('sends a resumed subscription a replay larger than the unread limit whole, paced as the client reads, live events after it', async () => {
    const c = await client()
    const { result: id } = await c.request('kv_subscribe', { since: 'now', prefix: 'replay/' })
    const cursor = (await c.next(m => m.params?.subscription === id && m.params.result.type === 'ready')).params.result.cursor
    const value = 'r'.repeat(48 * 1024)
    for (let i = 0; i < 40; i++) { // 40 × 48 KiB: nearly twice the 1 MiB limit
      const key = `replay/${String(i).padStart(2, '0')}`
      assert.ok((await c.request('kv_put', { key, value })).result)
      written.set(key, value)
    }
    const reader = await client()
    const { result: resumed } = await reader.request('kv_subscribe', { since: cursor, prefix: 'replay/' })
    assert.ok((await c.request('kv_put', { key: 'replay/live', value: 'after' })).result)
    written.set('replay/live', 'after')
    await reader.next(m => m.params?.subscription === resumed && m.params.result.key === 'replay/live', 10_000)
    const keys = reader.messages.filter(m => m.params?.subscription === resumed).map(m => m.params.result.type === 'ready' ? 'ready' : m.params.result.key)
    assert.deepEqual(keys, [...Array.from({ length: 40 }, (_, i) => `replay/${String(i).padStart(2, '0')}`), 'ready', 'replay/live'])
    assert.equal(reader.isClosed, false)
    reader.destroy()
    c.destroy()
  })

  it('a subscription opened after every earlier one was ended or closed hears the changes after it, and only those', async () => {
    // with no subscription open the daemon builds no change events: each new one must bring them back
    const put = async (c: RawClient, key: string): Promise<void> => {
      assert.ok((await c.request('kv_put', { key, value: key })).result)
      written.set(key, key)
    }
    const heard = async (c: RawClient, id: string, key: string): Promise<void> => {
      await c.next(m => m.params?.subscription === id && m.params.result.key === key)
    }
    const first = await client()
    const { result: one } = await first.request('kv_subscribe', { prefix: 'again/' })
    await put(first, 'again/1')
    await heard(first, one, 'again/1')
    // the only subscription ends (the server stops listening at once), a change, and a new one
    assert.equal((await first.request('kv_unsubscribe', { subscription: one })).result, true)
    await put(first, 'again/2')
    const { result: two } = await first.request('kv_subscribe', { prefix: 'again/' })
    await put(first, 'again/3')
    await heard(first, two, 'again/3')
    const keys = first.messages.filter(m => m.method === 'kv_subscription').map(m => `${m.params.subscription === one ? 'one' : 'two'} ${m.params.result.key}`)
    assert.deepEqual(keys, ['one again/1', 'two again/3'])
    // closed with its subscription open; then another connection's subscription
    first.destroy()
    await first.closed
    const second = await client()
    const { result: three } = await second.request('kv_subscribe', { prefix: 'again/' })
    await put(second, 'again/4')
    await heard(second, three, 'again/4')
    second.destroy()
  })

  it('drops a client that sends requests but never reads the answers', async () => {
    const big = 'x'.repeat(48 * 1024)
    assert.ok((await (await client()).request('kv_put', { key: 'big', value: big })).result)
    written.set('big', big)
    const deaf = connect(socket)
    await new Promise(resolve => deaf.once('connect', resolve))
    deaf.pause() // never reads
    deaf.on('error', () => {})
    // a few at a time, within the in-flight limit: 200 answers of 48 KiB pile up unread
    for (let i = 0; i < 200 && !deaf.destroyed; i += 4) {
      deaf.write(Array.from({ length: 4 }, (_, j) => JSON.stringify({ jsonrpc: '2.0', id: i + j, method: 'kv_get', params: { key: 'big' } }) + '\n').join(''))
      await new Promise(resolve => setTimeout(resolve, 5))
      if (logs.some(l => /not reading its answers/.test(l.msg))) break
    }
    const warning = await waitFor(() => logs.find(l => /not reading its answers/.test(l.msg)), 'the slow-reader warning', 10_000)
    assert.ok(warning.unread > limits.maxUnreadBytes)
    const closed = new Promise(resolve => deaf.once('close', resolve))
    deaf.resume()
    await closed
    await assertServing()
  })

  it('answers requests beyond the in-flight limit with TooBusyError and runs the rest', async () => {
    const warnings = logs.filter(l => /too many requests in flight/.test(l.msg)).length
    const eager = await client()
    const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ jsonrpc: '2.0', id: i, method: 'kv_put', params: { key: `eager:${i}`, value: String(i) } }))
    eager.write(lines.join('\n') + '\n')
    await waitFor(() => eager.messages.length === 20, 'an answer to every line')
    const done = eager.messages.filter(m => m.result != null).map(m => m.id as number).sort((a, b) => a - b)
    const busy = eager.messages.filter(m => m.error?.data?.name === 'TooBusyError')
    assert.deepEqual(done, [0, 1, 2, 3, 4, 5, 6, 7])
    assert.equal(busy.length, 12)
    assert.equal(busy[0].error.code, -32600)
    for (const id of done) written.set(`eager:${id}`, String(id))
    assert.equal(logs.filter(l => /too many requests in flight/.test(l.msg)).length, warnings + 1, 'one warning per connection, not one per request')
    await assertServing() // the refused puts stored nothing
  })

  it('limits subscriptions per connection', async () => {
    const watcher = await client()
    const ids = []
    for (let i = 0; i < limits.maxSubscriptions; i++) ids.push((await watcher.request('kv_subscribe', { prefix: `w${i}:` })).result)
    const refused = await watcher.request('kv_subscribe', {})
    assert.equal(refused.error.code, -32600)
    assert.equal(refused.error.data.name, 'TooBusyError')
    assert.equal((await watcher.request('kv_unsubscribe', { subscription: ids[0] })).result, true)
    assert.equal(typeof (await watcher.request('kv_subscribe', {})).result, 'string')
    await assertServing()
  })

  it('never lets __proto__, constructor or prototype keys reach a prototype', async () => {
    const before = Object.getOwnPropertyNames(Object.prototype).sort()
    const c = await client()
    const raw = async (text: string): Promise<any> => {
      c.write(text + '\n')
      const answer = await c.next(() => true)
      c.messages.splice(0, 1)
      return answer
    }
    const invalid = [
      '{"jsonrpc":"2.0","id":1,"method":"kv_put","params":{"key":"p","value":"v","__proto__":{"polluted":"yes"}}}',
      '{"jsonrpc":"2.0","id":2,"method":"kv_get","params":{"key":"kept","constructor":{"prototype":{"polluted":"yes"}}}}',
      '{"jsonrpc":"2.0","id":3,"method":"kv_list","params":{"prototype":{"polluted":"yes"}}}',
      '{"jsonrpc":"2.0","id":4,"method":"node_status","params":{"__proto__":{"polluted":"yes"}}}',
      '{"jsonrpc":"2.0","id":5,"method":"kv_subscribe","params":{"__proto__":null}}'
    ]
    for (const text of invalid) {
      const answer = await raw(text)
      assert.equal(answer.error?.code, -32602, `${text} → ${JSON.stringify(answer)}`)
      assert.match(answer.error.message, /__proto__|constructor|prototype/)
    }
    for (const method of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype']) {
      const answer = await raw(`{"jsonrpc":"2.0","id":"m","method":"${method}","params":{}}`)
      assert.equal(answer.error?.code, -32601, method)
    }
    // extra members of the request itself are ignored, and pollute nothing either
    const extra = await raw('{"jsonrpc":"2.0","id":6,"method":"kv_get","params":{"key":"kept"},"__proto__":{"polluted":"yes"}}')
    assert.equal(extra.result.value, 'intact')
    const batch = await raw('[{"jsonrpc":"2.0","id":7,"method":"kv_get","params":{"key":"kept"}},{"__proto__":{"polluted":"yes"}}]')
    assert.equal(batch.length, 2)
    assert.equal(batch.find((r: any) => r.id === 7).result.value, 'intact')
    assert.equal(batch.find((r: any) => r.id === null).error.code, -32600)
    assert.equal(({} as any).polluted, undefined)
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), before)
    assert.ok(logs.some(l => l.msg === 'RPC request failed' && l.code === -32602 && l.method === 'kv_put'), 'refused params are logged (debug)')
    assert.equal((await c.request('kv_get', { key: 'p' })).result, null)
    await assertServing()
  })

  it('closes a connection that sends an oversized frame, ignoring what follows it', async () => {
    const flood = await client()
    flood.write(Buffer.alloc(limits.maxFrameBytes + 1, 'a'))
    flood.write('\n' + JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'kv_put', params: { key: 'smuggled', value: 'x' } }) + '\n')
    const closing = await flood.next(m => m.error != null)
    assert.equal(closing.error.data.name, 'FrameTooLargeError')
    await flood.closed
    assert.equal(flood.messages.length, 1, 'the request after the oversized frame was not run')
    await logged('FrameTooLargeError')
    assert.equal(node.get('smuggled'), undefined)
    await assertServing()
  })
})
