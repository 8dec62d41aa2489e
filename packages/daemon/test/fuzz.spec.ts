/**
 * Property-based fuzzing of the daemon's front door, 10,000 cases: every RPC
 * method's params, through the real dispatch path (an RpcServer in this
 * process, over its socket) against a model of the map: each request gets
 * one JSON-RPC answer with the right code, never an internal error, and a
 * refused request changes nothing.
 *
 * (The gossip op decoder is fuzzed in core's codec.spec.ts, the sync frame
 * decoder in core's messages.spec.ts, NDJSON framing in protocol's
 * framing-fuzz.spec.ts.)
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { multiaddr } from '@multiformats/multiaddr'
import fc from 'fast-check'
import { pino } from 'pino'
import { RpcServer, createMurmur, type Murmur } from '../src/index.js'
import { RawClient } from './raw-client.js'

const RUNS = 10_000
/** Methods whose every case is slower (kv_list reads the map, kv_put writes it): fewer cases, so the suite keeps within CI's time. */
const RUNS_OF: Record<string, number> = { kv_list: 3_000, kv_put: 5_000 }
const MAX_KEY_BYTES = 1024
const MAX_VALUE_BYTES = 1024 * 1024
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
/** A dialable address that is safe to dial: nothing listens there. */
const CLOSED_LOOPBACK = '/ip4/127.0.0.1/tcp/1'

type Json = unknown
type Expected = { code: number } | 'ok'

// ---------------------------------------------------------------- generators

/** Keys: mostly a handful that collide (so gets and deletes find things), plus edge cases and noise. */
const keyish: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'ab', 'k:1', 'k:2', 'é', '日本', '\u0000', 'a\u0000b', '\uFFFF', '😀', '__proto__', 'constructor') },
  { weight: 1, arbitrary: fc.constantFrom('', '\u0000', '\u0000attest/x', '\ud800', 'a\udfff', 'x'.repeat(MAX_KEY_BYTES), 'x'.repeat(MAX_KEY_BYTES + 1), 'é'.repeat(512), 'é'.repeat(513), ' ', '\n') },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) }
)

/** Any JSON value: shallow, so the generator stays quick. */
const anyJson = fc.jsonValue({ maxDepth: 3 })

const encodingish = fc.constantFrom('utf8', 'base64', 'UTF8', 'hex', '')
const numberish = fc.oneof(fc.integer({ min: -2, max: 10_002 }), fc.constantFrom(0, 1, 1.5, 10_000, 10_001, -1, 1e300, Number.MAX_SAFE_INTEGER + 2))
/** Values: text, base64 (valid or not), and rarely one just over the size limit (they are slow to send). */
const valueish: fc.Arbitrary<Json> = fc.oneof(
  { weight: 20, arbitrary: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('', '\u0000', '\ud800', 'a\udfff', '😀', 'aGVsbG8=', 'aGVsbG8', '////', '***')) },
  { weight: 5, arbitrary: fc.uint8Array({ maxLength: 30 }).map(bytes => Buffer.from(bytes).toString('base64')) },
  // only over the limit: a stored 1 MiB value would slow every later kv_list (rpc-errors.spec checks exactly 1 MiB)
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(MAX_VALUE_BYTES + 1), Buffer.alloc(MAX_VALUE_BYTES + 1).toString('base64')) }
)
const addrish = fc.constantFrom(CLOSED_LOOPBACK, '/ip4/127.0.0.1', 'not a multiaddr', '/', '', '/ip4/999.0.0.1/tcp/1', 'x'.repeat(1025))

/** A field with a value of its own kind most of the time, else anything. */
const byName: Record<string, fc.Arbitrary<Json>> = {
  key: keyish, value: valueish, encoding: encodingish, prefix: keyish, after: keyish, limit: numberish, subscription: keyish, addr: addrish
}
const anyField: fc.Arbitrary<Json> = fc.oneof(keyish, encodingish, numberish, anyJson)
const fieldName = fc.constantFrom('key', 'value', 'encoding', 'prefix', 'after', 'limit', 'subscription', 'addr', '__proto__', 'constructor', 'prototype', 'extra', '')

/** Params for `method`: mostly its own fields (valid or nearly), sometimes any fields, any JSON, or none. */
function paramsFor (method: string): fc.Arbitrary<Json | undefined> {
  const spec = fields[method] as { required: string[], optional: string[] }
  const own = Object.fromEntries([...spec.required, ...spec.optional].map(name => [name, fc.oneof({ weight: 9, arbitrary: byName[name] as fc.Arbitrary<Json> }, { weight: 1, arbitrary: anyField })]))
  const extra = fc.oneof({ weight: 7, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.tuple(fieldName, anyField) })
  const shaped = fc.tuple(fc.record(own, { requiredKeys: spec.required }), extra)
    .map(([record, extra]) => ({ ...record, ...(extra != null ? { [extra[0]]: extra[1] } : {}) }))
  return fc.oneof(
    { weight: 8, arbitrary: shaped },
    { weight: 3, arbitrary: fc.dictionary(fieldName, anyField, { maxKeys: 4 }) },
    { weight: 1, arbitrary: anyJson },
    { weight: 1, arbitrary: fc.constant(undefined) }
  )
}

// ---------------------------------------------------------------- the oracle

const fields: Record<string, { required: string[], optional: string[] }> = {
  kv_put: { required: ['key', 'value'], optional: ['encoding'] },
  kv_get: { required: ['key'], optional: ['encoding'] },
  kv_delete: { required: ['key'], optional: [] },
  kv_list: { required: [], optional: ['prefix', 'limit', 'after', 'encoding'] },
  kv_subscribe: { required: [], optional: ['prefix', 'encoding'] },
  kv_unsubscribe: { required: ['subscription'], optional: [] },
  p2p_peers: { required: [], optional: [] },
  p2p_connect: { required: ['addr'], optional: [] },
  node_status: { required: [], optional: [] }
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.isWellFormed()
const fieldValid: Record<string, (v: unknown) => boolean> = {
  key: v => isText(v) && v.length > 0 && Buffer.byteLength(v) <= MAX_KEY_BYTES && !v.startsWith('\u0000'),
  value: v => isText(v),
  encoding: v => v === 'utf8' || v === 'base64',
  prefix: v => isText(v) && v.length <= MAX_KEY_BYTES,
  after: v => isText(v) && v.length <= MAX_KEY_BYTES,
  limit: v => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 10_000,
  subscription: v => typeof v === 'string' && v.length > 0,
  addr: v => typeof v === 'string' && v.length > 0 && v.length <= 1024
}

/** What murmurd must answer, judged independently of its zod schemas. */
function expected (method: string, wire: Json | undefined): Expected {
  const params = wire === undefined ? {} : wire
  if (params === null || typeof params !== 'object') return { code: -32600 }
  if (Array.isArray(params)) return { code: -32602 }
  const spec = fields[method] as { required: string[], optional: string[] }
  const record = params as Record<string, unknown>
  for (const name of Object.keys(record)) {
    if (![...spec.required, ...spec.optional].includes(name)) return { code: -32602 }
    if (!(fieldValid[name] as (v: unknown) => boolean)(record[name])) return { code: -32602 }
  }
  if (spec.required.some(name => !Object.hasOwn(record, name))) return { code: -32602 }
  if (method === 'kv_put') {
    if (record.encoding === 'base64' && !BASE64.test(record.value as string)) return { code: -32602 }
    if (bytesOf(record).length > MAX_VALUE_BYTES) return { code: 1004 }
  }
  if (method === 'p2p_connect') return parsesAsMultiaddr(record.addr as string) ? { code: 1002 } : { code: -32602 }
  return 'ok'
}

function bytesOf (params: Record<string, unknown>): Buffer {
  return Buffer.from(params.value as string, params.encoding === 'base64' ? 'base64' : 'utf8')
}

function parsesAsMultiaddr (addr: string): boolean {
  try {
    multiaddr(addr)
    return true
  } catch {
    return false
  }
}

/** Decodes a wire entry's value back to bytes. */
function wireBytes (entry: { value: string, encoding?: string }): Buffer {
  return Buffer.from(entry.value, entry.encoding === 'base64' ? 'base64' : 'utf8')
}

// ---------------------------------------------------------------- RPC dispatch

describe('fuzzing every RPC method\'s params (in-process RpcServer, real dispatch)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-fuzz-'))
  const socket = join(dir, 'node', 'murmurd.sock')
  /** The map as the answers say it should be: key → bytes. */
  const model = new Map<string, Buffer>()
  let node: Murmur
  let server: RpcServer
  let client: RawClient
  let changes = 0

  before(async () => {
    // durability 'normal': the fuzz is about dispatch, not fsync
    node = await createMurmur({ name: 'fuzz', dataDir: join(dir, 'node'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, durability: 'normal' })
    node.on('change', () => { changes++ })
    server = new RpcServer(node, { path: socket, log: pino({ level: 'silent' }) })
    await server.listen()
    client = await RawClient.connect(socket)
  })
  after(async () => {
    client?.destroy()
    await server?.close()
    await node?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Sends one request as murmurctl would (params serialised as JSON) and checks the answer against the oracle and the model; returns 'ok' or the error code. */
  async function check (method: string, params: Json | undefined): Promise<string> {
    const text = JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params !== undefined ? { params } : {}) })
    const request = JSON.parse(text)
    const wire = request.params
    // never dial anything but a closed loopback port
    if (method === 'p2p_connect' && typeof wire?.addr === 'string' && wire.addr !== CLOSED_LOOPBACK) fc.pre(!parsesAsMultiaddr(wire.addr))
    const want = expected(method, wire)
    const changesBefore = changes
    const answer = await client.request(method, wire)
    client.messages.length = 0 // notifications, if any
    assert.equal(answer.jsonrpc, '2.0')
    assert.ok(('result' in answer) !== ('error' in answer), 'exactly one of result and error')
    if (want !== 'ok') {
      assert.equal(answer.error?.code, want.code, `${text.slice(0, 200)} → ${JSON.stringify(answer).slice(0, 300)}`)
      assert.equal(typeof answer.error.message, 'string')
      assert.equal(typeof answer.error.data?.name, 'string')
      assert.equal(changes, changesBefore, 'a refused request changed nothing')
      return String(want.code)
    }
    assert.ok('result' in answer, `${text.slice(0, 200)} → ${JSON.stringify(answer).slice(0, 300)}`)
    await checkResult(method, wire ?? {}, answer.result, changes - changesBefore)
    return 'ok'
  }

  async function checkResult (method: string, params: Record<string, any>, result: any, changed: number): Promise<void> {
    switch (method) {
      case 'kv_put': {
        assert.equal(result.version.origin, node.peerId)
        model.set(params.key, bytesOf(params))
        assert.equal(changed, 1)
        break
      }
      case 'kv_get': {
        const want = model.get(params.key)
        if (want == null) {
          assert.equal(result, null)
        } else {
          assert.equal(result.key, params.key)
          assert.deepEqual(wireBytes(result), want)
          if (params.encoding === 'base64') assert.equal(result.encoding, 'base64')
        }
        break
      }
      case 'kv_delete': {
        assert.equal(result.deleted, model.has(params.key))
        assert.equal(changed, model.delete(params.key) ? 1 : 0)
        break
      }
      case 'kv_list': {
        const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b))
        const matching = [...model.keys()].filter(k => k.startsWith(params.prefix ?? '') && (params.after == null || byBytes(k, params.after) > 0)).sort(byBytes)
        const limit = params.limit ?? 1000
        assert.deepEqual(result.items.map((e: any) => e.key), matching.slice(0, limit))
        for (const entry of result.items) assert.deepEqual(wireBytes(entry), model.get(entry.key))
        assert.equal(result.next, matching.length > limit ? matching[limit - 1] : undefined)
        break
      }
      case 'kv_subscribe': {
        assert.equal(typeof result, 'string')
        assert.equal((await client.request('kv_unsubscribe', { subscription: result })).result, true)
        break
      }
      case 'kv_unsubscribe': assert.equal(result, false); break
      case 'p2p_peers': assert.deepEqual(result, []); break
      case 'node_status': assert.equal(result.id, node.peerId); break
      default: assert.fail(`${method} succeeded: ${JSON.stringify(result)}`)
    }
    if (method !== 'kv_put' && method !== 'kv_delete') assert.equal(changed, 0, `${method} changed the map`)
  }

  for (const method of Object.keys(fields)) {
    const runs = RUNS_OF[method] ?? RUNS
    it(`${method}: ${runs} random params get the right answer and refused ones change nothing`, async () => {
      const started = Date.now()
      const outcomes: Record<string, number> = {}
      await fc.assert(fc.asyncProperty(paramsFor(method), async params => {
        const outcome = await check(method, params)
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
      }), { numRuns: runs, includeErrorInReport: true })
      console.log(`${method}: ${runs} cases in ${Date.now() - started} ms; outcomes (last run) ${JSON.stringify(outcomes)}`)
    })
  }

  it('answers unknown methods with -32601, whatever the params', async () => {
    const method = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'kv_put ', 'KV_PUT'))
    await fc.assert(fc.asyncProperty(method, paramsFor('kv_list'), async (name, params) => {
      fc.pre(!Object.hasOwn(fields, name))
      const answer = await client.request(name, params)
      const badParams = params !== undefined && (params === null || typeof params !== 'object')
      assert.equal(answer.error?.code, badParams ? -32600 : -32601, `${name} → ${JSON.stringify(answer).slice(0, 200)}`)
    }), { numRuns: RUNS, includeErrorInReport: true })
  })

  it('holds exactly the model afterwards, in the store itself', () => {
    const stored = new Map<string, Buffer>()
    let after: string | undefined
    for (;;) {
      const page = node.list({ after, limit: 1000 })
      for (const entry of page.items) stored.set(entry.key, Buffer.from(entry.value))
      if (page.next == null) break
      after = page.next
    }
    assert.deepEqual(stored, model)
    console.log(`the map holds ${model.size} keys after ${changes} changes`)
  })
})
