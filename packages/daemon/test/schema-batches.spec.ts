/**
 * Schemas within one batch or commit: a put is checked against the schemas as
 * the schema writes taken before it leave them, as it would be were they sent
 * one by one. In-process for the view (a conditional schema write, which may
 * not commit, must be matched with and without it), then on a real murmurd
 * over a raw JSON-RPC batch, two requests sent at once, and `murmurctl import`.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Schemas, type SchemaSource } from '../src/schemas.js'
import { useNode } from './harness.js'
import { RawClient } from './raw-client.js'

const bytes = (json: string): Uint8Array => Buffer.from(json)

describe('SchemaView.after (no network)', () => {
  const integer = { key: '_schema/n/', value: bytes('{"type":"integer"}'), origin: 'p', seq: 1 } as any
  const source = (...rows: any[]): SchemaSource => ({ list: () => rows, expiryClock: () => 0, store: { watch: () => () => {} } })

  it('a schema set or deleted earlier in the batch governs the puts after it', () => {
    const view = new Schemas().view(source(integer))
    assert.throws(() => view.after('_schema/s/', bytes('{"type":"string"}'), false).check('s/a', bytes('1')), { name: 'SchemaViolationError' })
    assert.doesNotThrow(() => view.after('_schema/n/', null, false).check('n/a', bytes('"text"')), 'a deleted schema governs no more')
    assert.throws(() => view.after('_schema/n/x/', null, false).check('n/x/a', bytes('"text"')), { name: 'SchemaViolationError' }, 'the next longest governs')
    assert.doesNotThrow(() => view.check('s/a', bytes('1')), 'the view before it is as it was')
  })

  it('after a conditional schema write, a put must match the schemas with it and without it', () => {
    const view = new Schemas().view(source(integer))
    const maybeString = view.after('_schema/n/', bytes('{"type":"string"}'), true)
    assert.throws(() => maybeString.check('n/a', bytes('1')), /must be string/)
    assert.throws(() => maybeString.check('n/a', bytes('"text"')), /must be integer/)
    const maybeGone = view.after('_schema/n/', null, true)
    assert.throws(() => maybeGone.check('n/a', bytes('"text"')), /must be integer/)
    assert.doesNotThrow(() => view.after('_schema/s/', bytes('{"type":"string"}'), true).check('n/a', bytes('1')))
  })
})

describe('schemas within one batch, on a real murmurd', () => {
  const node = useNode()

  const schema = { type: 'object', required: ['replicas'], properties: { replicas: { type: 'integer' } } }

  it('a JSON-RPC batch [set the schema, put a bad value under it] refuses the put, as two batches do', async () => {
    const client = await RawClient.connect(node.alice.socket)
    try {
      client.write(JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'kv_put', params: { key: '_schema/rpc/', value: schema, type: 'json' } },
        { jsonrpc: '2.0', id: 2, method: 'kv_put', params: { key: 'rpc/x', value: { replicas: 'three' }, type: 'json' } },
        { jsonrpc: '2.0', id: 3, method: 'kv_put', params: { key: 'rpc/y', value: { replicas: 3 }, type: 'json' } }
      ]) + '\n')
      const answers = await client.next(Array.isArray)
      const byId = (id: number): any => answers.find((a: any) => a.id === id)
      assert.equal(byId(1).error, undefined, JSON.stringify(answers))
      assert.equal(byId(2).error?.code, 1008, JSON.stringify(answers))
      assert.match(byId(2).error.message, /"rpc\/x" does not match the schema for prefix "rpc\/"/)
      assert.equal(byId(3).error, undefined, JSON.stringify(answers))
    } finally {
      client.destroy()
    }
    assert.equal((await node.alice.ctl(['get', 'rpc/x'])).code, 4, 'the bad value was not written')
  })

  it('two requests sent at once, not as a batch (so committed together), check the put against the schema before it', async () => {
    const client = await RawClient.connect(node.alice.socket)
    try {
      client.write([
        { jsonrpc: '2.0', id: 1, method: 'kv_put', params: { key: '_schema/piped/', value: { type: 'integer' }, type: 'json' } },
        { jsonrpc: '2.0', id: 2, method: 'kv_put', params: { key: 'piped/x', value: '"text"' } }
      ].map(request => JSON.stringify(request) + '\n').join(''))
      assert.equal((await client.next(m => m.id === 1)).error, undefined)
      const put = await client.next(m => m.id === 2)
      assert.equal(put.error?.code, 1008, JSON.stringify(put))
    } finally {
      client.destroy()
    }
  })

  it('murmurctl import: a schema line governs the lines after it in the same batch (exit 6, the line named)', async () => {
    const file = join(node.cluster.dir, 'schema-then-bad.ndjson')
    const line = (key: string, value: unknown): string => JSON.stringify({ key, type: 'json', value: JSON.stringify(value) })
    writeFileSync(file, [line('_schema/imp/', schema), line('imp/good', { replicas: 1 }), line('imp/bad', { replicas: 'one' })].join('\n') + '\n')
    const imported = await node.alice.ctl(['import', file])
    assert.equal(imported.code, 6, imported.stderr)
    assert.match(imported.stderr, /line 3: "imp\/bad" does not match the schema for prefix "imp\/"/)
    assert.equal((await node.alice.ctl(['get', 'imp/bad'])).code, 4, 'the bad value was not written')
  })
})
