/**
 * Every RPC error path against a real murmurd, over a raw Unix socket (and
 * through murmurctl where a user would meet it). After each bad input the
 * daemon must still serve other clients.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { MurmurClient } from '@murmur/protocol/client'
import { TestCluster, run, MURMURCTL, type TestNode } from './harness.js'

/** Sends raw text, half-closes, and returns every line the daemon answered. */
async function exchange (socket: string, text: string | Buffer): Promise<any[]> {
  return await new Promise((resolve, reject) => {
    const client = connect(socket)
    const chunks: Buffer[] = []
    client.on('data', d => chunks.push(d))
    client.on('error', reject)
    client.on('close', () => {
      const lines = Buffer.concat(chunks).toString().split('\n').filter(l => l !== '')
      resolve(lines.map(l => JSON.parse(l)))
    })
    client.end(text)
  })
}

async function call (socket: string, request: unknown): Promise<any> {
  const [response] = await exchange(socket, JSON.stringify(request) + '\n')
  return response
}

const req = (method: string, params?: unknown, id: unknown = 1): Record<string, unknown> =>
  ({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) })

describe('RPC error paths', () => {
  const cluster = new TestCluster()
  let node: TestNode

  before(async () => {
    node = await cluster.start('errors', { args: ['--log-level', 'warn'] })
    await node.put('kept', 'intact')
  })
  after(async () => { await cluster.close() })

  it('answers malformed JSON with -32700 and keeps the connection usable', async () => {
    const [bad, good] = await exchange(node.socket, '{"jsonrpc": "2.0", "method": \n' + JSON.stringify(req('kv_get', { key: 'kept' }, 7)) + '\n')
    assert.equal(bad.error.code, -32700)
    assert.equal(bad.id, null)
    assert.equal(good.id, 7)
    assert.equal(good.result.value, 'intact')
  })

  it('answers an unknown method with -32601', async () => {
    const response = await call(node.socket, req('kv_frobnicate', {}))
    assert.equal(response.error.code, -32601)
    assert.equal(response.id, 1)
  })

  it('answers a request that is not JSON-RPC 2.0 with -32600', async () => {
    for (const bad of [42, 'x', null, { method: 'kv_get' }, { jsonrpc: '2.0', method: 5 }, { jsonrpc: '2.0', method: 'kv_get', params: 3, id: 1 }, { jsonrpc: '2.0', method: 'kv_get', id: {} }]) {
      const response = await call(node.socket, bad)
      assert.equal(response.error.code, -32600, `for ${JSON.stringify(bad)}`)
      assert.equal(response.error.data.name, 'InvalidRequestError')
    }
    assert.equal((await call(node.socket, [])).error.code, -32600, 'empty batch')
  })

  it('answers wrong, missing and unknown params with -32602 naming the field', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['kv_put', { key: 'a', value: 5 }, /value/],
      ['kv_put', { key: 'a' }, /value/],
      ['kv_put', { key: '', value: 'v' }, /key must not be empty/],
      ['kv_put', { key: 'k'.repeat(1025), value: 'v' }, /at most 1024 bytes/],
      ['kv_put', { key: 'é'.repeat(513), value: 'v' }, /at most 1024 bytes/],
      ['kv_put', { key: '\ud800', value: 'v' }, /UTF-8/],
      ['kv_put', { key: 'a', value: 'v', extra: 1 }, /extra/],
      ['kv_put', { key: 'a', value: '***', encoding: 'base64' }, /base64/],
      ['kv_put', ['a', 'v'], /named params/],
      ['kv_get', { key: 7 }, /key/],
      ['kv_list', { limit: 0 }, /limit/],
      ['kv_list', { limit: 'ten' }, /limit/],
      ['p2p_connect', { addr: 'not a multiaddr' }, /multiaddr/]
    ]
    for (const [method, params, message] of cases) {
      const response = await call(node.socket, req(method, params))
      assert.equal(response.error?.code, -32602, `${method} ${JSON.stringify(params).slice(0, 80)} → ${JSON.stringify(response).slice(0, 200)}`)
      assert.equal(response.error.data.name, 'InvalidParamsError')
      assert.match(response.error.message, message)
    }
  })

  it('refuses a value over the limit with an application error code and stores nothing', async () => {
    const response = await call(node.socket, req('kv_put', { key: 'big', value: 'x'.repeat(1024 * 1024 + 1) }))
    assert.equal(response.error.code, 1004)
    assert.equal(response.error.data.name, 'ValueTooLargeError')
    assert.ok(response.error.code < -32768 || response.error.code > -32000)
    assert.equal((await call(node.socket, req('kv_get', { key: 'big' }))).result, null)
    const exact = await call(node.socket, req('kv_put', { key: 'big', value: 'x'.repeat(1024 * 1024) }))
    assert.ok(exact.result.version, 'a value of exactly the limit is accepted')
  })

  it('rejects JSON nested too deep before parsing it', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    const [response] = await exchange(node.socket, deep + '\n')
    assert.equal(response.error.code, -32700)
    assert.match(response.error.message, /deeper than/)
  })

  it('closes a connection that sends an oversized frame, and keeps serving others', async () => {
    const [response] = await exchange(node.socket, Buffer.alloc(9 * 1024 * 1024, 'a'))
    assert.equal(response.error.code, -32600)
    assert.equal(response.error.data.name, 'FrameTooLargeError')
    assert.equal((await call(node.socket, req('kv_get', { key: 'kept' }))).result.value, 'intact')
  })

  it('answers a batch, skipping notifications, each element on its own', async () => {
    const responses = await exchange(node.socket, JSON.stringify([
      req('kv_put', { key: 'batch:a', value: '1' }, 'a'),
      req('kv_nope', {}, 'b'),
      { jsonrpc: '2.0', method: 'kv_put', params: { key: 'batch:notified', value: '1' } },
      7
    ]) + '\n')
    assert.equal(responses.length, 1)
    const byId = new Map(responses[0].map((r: any) => [r.id, r]))
    assert.ok((byId.get('a') as any).result.version)
    assert.equal((byId.get('b') as any).error.code, -32601)
    assert.equal((byId.get(null) as any).error.code, -32600)
    assert.equal(responses[0].length, 3)
    assert.equal((await call(node.socket, req('kv_get', { key: 'batch:notified' }))).result.value, '1')
  })

  it('refuses a batch over 1,000 requests under each request\'s id, so the typed client\'s batch settles, and writes nothing', async () => {
    const client = await MurmurClient.connect(node.socket)
    try {
      const outcomes = await Promise.race([
        client.batch(Array.from({ length: 1_001 }, (_, i) => ({ method: 'kv_put' as const, params: { key: `long:${i}`, value: 'x' } }))),
        new Promise<never>((resolve, reject) => setTimeout(() => { reject(new Error('the batch had no answer in 10 s')) }, 10_000))
      ])
      assert.equal(outcomes.length, 1_001)
      for (const { error } of outcomes) {
        assert.equal(error?.code, -32600)
        assert.equal(error?.message, 'batch of 1001 requests exceeds the limit of 1000')
      }
      assert.equal((await client.batch([{ method: 'kv_get', params: { key: 'kept' } }]))[0]?.result !== undefined, true, 'the connection still serves')
    } finally {
      client.close()
    }
    assert.equal((await call(node.socket, req('kv_get', { key: 'long:0' }))).result?.value, undefined, 'nothing of it was written')
  })

  it('answers a mixed batch of writes element by element, in order, as separate calls would', async () => {
    await call(node.socket, req('kv_put', { key: 'mix:old', value: 'before' }))
    const big = 'x'.repeat(1024 * 1024 + 1)
    const responses = await exchange(node.socket, JSON.stringify([
      req('kv_put', { key: 'mix:a', value: 'A' }, 'dup'),
      req('kv_put', { key: '', value: 'empty key' }, 2),
      req('kv_get', { key: 'kept' }, 3),
      req('kv_put', { key: 'mix:b', value: 'B' }, 'dup'),
      req('kv_delete', { key: 'mix:old' }, 5),
      req('kv_delete', { key: 'mix:never' }, 6),
      req('kv_put', { key: 'mix:big', value: big }, 7),
      req('kv_put', { key: 'mix:bin', value: '***', encoding: 'base64' }, 8),
      { jsonrpc: '2.0', method: 'kv_put', params: { key: 'mix:notified', value: 'N' } },
      { jsonrpc: '2.0', method: 'kv_put', params: { key: 'mix:bad-notified' } },
      req('kv_put', { key: 'mix:extra', value: 'v', extra: 1 }, 9),
      req('kv_nope', {}, 10),
      { jsonrpc: '2.0', id: 11, method: 'kv_delete', result: 1 },
      req('kv_put', { key: 'mix:c', value: 'C' }, 12)
    ]) + '\n')
    assert.equal(responses.length, 1)
    const answers = responses[0]
    assert.deepEqual(answers.map((r: any) => r.id), ['dup', 2, 3, 'dup', 5, 6, 7, 8, 9, 10, 11, 12], 'batch order, notifications left out')
    const [a, empty, get, b, deleted, never, tooBig, bin, extra, nope, invalid, c] = answers
    for (const ok of [a, b, c]) assert.equal(typeof ok.result.version.seq, 'number')
    assert.ok(a.result.version.seq < b.result.version.seq && b.result.version.seq < c.result.version.seq, 'written in batch order')
    assert.equal(empty.error.code, -32602)
    assert.match(empty.error.message, /key must not be empty/)
    assert.equal(get.result.value, 'intact')
    assert.equal(deleted.result.deleted, true)
    assert.equal(typeof deleted.result.version.seq, 'number')
    assert.deepEqual(never.result, { deleted: false })
    assert.equal(tooBig.error.code, 1004)
    assert.equal(tooBig.error.data.name, 'ValueTooLargeError')
    assert.equal(bin.error.code, -32602)
    assert.match(bin.error.message, /base64/)
    assert.match(extra.error.message, /extra/)
    assert.equal(nope.error.code, -32601)
    assert.equal(invalid.error.code, -32600)
    const get1 = async (key: string): Promise<unknown> => (await call(node.socket, req('kv_get', { key }))).result?.value ?? null
    assert.deepEqual(await Promise.all(['mix:a', 'mix:b', 'mix:c', 'mix:notified', 'mix:old', 'mix:big', 'mix:bin', 'mix:extra', 'mix:bad-notified'].map(get1)),
      ['A', 'B', 'C', 'N', null, null, null, null, null])
  })

  it('answers every pending request after the client half-closes (printf | nc -N -U)', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify(req('kv_put', { key: `hc:${i}`, value: String(i) }, i))).join('\n') + '\n'
    const responses = await exchange(node.socket, lines)
    assert.equal(responses.length, 50)
    assert.deepEqual(responses.map(r => r.id).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i))
  })

  it('round-trips binary values through base64', async () => {
    const bytes = Buffer.from([0, 255, 1, 254, 0xc3, 0x28])
    await call(node.socket, req('kv_put', { key: 'bin', value: bytes.toString('base64'), encoding: 'base64' }))
    const got = (await call(node.socket, req('kv_get', { key: 'bin' }))).result
    assert.equal(got.encoding, 'base64')
    assert.deepEqual(Buffer.from(got.value, 'base64'), bytes)
    const cli = await node.ctl(['get', 'bin'])
    assert.deepEqual(cli.stdoutBytes, bytes)
  })

  it('murmurctl reports a bad key with exit 1 and one line naming the problem', async () => {
    const result = await node.ctl(['put', 'k'.repeat(2000), 'v'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^murmurctl: .*at most 1024 bytes.*InvalidParamsError.*-32602/)
    assert.equal(result.stderr.trim().split('\n').length, 1)
  })

  it('murmurctl exits 3 naming the socket when no daemon runs there', async () => {
    const result = await run(process.execPath, [MURMURCTL, '--socket', `${cluster.dir}/nobody.sock`, 'get', 'x'])
    assert.equal(result.code, 3)
    assert.match(result.stderr, /nobody\.sock/)
    assert.match(result.stderr, /murmurd/)
  })

  it('still serves, with data intact, after all of the above', async () => {
    assert.equal((await node.ctl(['get', 'kept'])).stdout, 'intact\n')
    assert.equal(node.process?.exitCode, null)
  })
})
