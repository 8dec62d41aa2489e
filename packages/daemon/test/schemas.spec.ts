/**
 * Optional JSON Schemas: the prefix rule, bad stored schemas and the
 * per-version cache in-process, then real `murmurd` and
 * `murmurctl` binaries: a schema set on one node replicates and governs puts
 * on the other (refused with code 1008 and exit 6), the longest prefix wins,
 * a changed or deleted schema takes effect (an expired one at once), and a
 * schema ajv cannot compile is refused (code 1009, exit 6).
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, it } from 'node:test'
import { MemoryStore, Replica } from '@murmur/core'
import { Schemas, governingPrefix, type SchemaSource } from '../src/schemas.js'
import { usePair, waitFor, type TestNode } from './harness.js'
import { RawClient } from './raw-client.js'

describe('governingPrefix', () => {
  it('picks the longest prefix that starts the key, and none for schema keys', () => {
    const prefixes = ['cfg/', 'cfg/db/', 'c', '']
    assert.equal(governingPrefix('cfg/db/main', prefixes), 'cfg/db/')
    assert.equal(governingPrefix('cfg/web', prefixes), 'cfg/')
    assert.equal(governingPrefix('cat', prefixes), 'c')
    assert.equal(governingPrefix('other', prefixes), '')
    assert.equal(governingPrefix('other', ['cfg/']), undefined)
    assert.equal(governingPrefix('_schema/cfg/', prefixes), undefined)
  })
})

describe('Schemas (no network)', () => {
  const row = (prefix: string, schema: string, seq: number): any => ({ key: `_schema/${prefix}`, value: Buffer.from(schema), origin: 'p', seq })
  const bytes = (json: string): Uint8Array => Buffer.from(json)
  /** A source holding `rows`, read afresh by every view (a new source each call). */
  const source = (...rows: any[]): SchemaSource => ({ list: () => rows, expiryClock: () => 0, store: { watch: () => () => {} } })

  it('refuses puts under a stored schema that does not compile, without throwing anything else', () => {
    const view = new Schemas().view(source(row('x/', '{"type":"nope"}', 1), row('y/', 'not json', 1)))
    assert.throws(() => view.check('x/a', bytes('1')), (err: any) => err.code === 1009 && err.data.prefix === 'x/')
    assert.throws(() => view.check('y/a', bytes('1')), (err: any) => err.code === 1009 && /not JSON/.test(err.message))
    assert.doesNotThrow(() => view.check('z/a', bytes('not json either')))
  })

  it('matches patterns in linear time, and refuses a schema whose pattern needs backtracking or the u flag', () => {
    // a member's schema: with the backtracking engine, 30 a's and a b took ~10 s, 40 would take hours
    const evil = JSON.stringify({ type: 'string', pattern: '^(a+)+$' })
    const view = new Schemas().view(source(row('evil/', evil, 1), row('props/', JSON.stringify({ type: 'object', patternProperties: { '^(x|xx)+$': { type: 'number' } } }), 1),
      row('back/', JSON.stringify({ type: 'string', pattern: '(a)\\1' }), 1), row('look/', JSON.stringify({ type: 'string', pattern: '^(?=a)' }), 1),
      row('uni/', JSON.stringify({ type: 'string', pattern: '^\\p{L}+$' }), 1), row('ok/', JSON.stringify({ type: 'string', pattern: '^[a-z]+-[0-9]{2,4}$' }), 1)))
    assert.throws(() => view.check('back/a', bytes('"aa"')), (err: any) => err.code === 1009 && /cannot be matched in linear time/.test(err.message))
    assert.throws(() => view.check('look/a', bytes('"a"')), (err: any) => err.code === 1009 && /cannot be matched in linear time/.test(err.message))
    assert.throws(() => view.check('uni/a', bytes('"a"')), (err: any) => err.code === 1009 && /needs the u flag/.test(err.message))
    assert.doesNotThrow(() => view.check('ok/a', bytes('"db-42"')))
    assert.throws(() => view.check('ok/a', bytes('"db-4"')), (err: any) => err.code === 1008)
    // last: with the backtracking engine these would not end for hours
    assert.throws(() => view.check('evil/a', bytes(JSON.stringify(`${'a'.repeat(40)}b`))), (err: any) => err.code === 1008)
    assert.doesNotThrow(() => view.check('evil/a', bytes(JSON.stringify('a'.repeat(40)))))
    assert.doesNotThrow(() => view.check('props/a', bytes(JSON.stringify({ [`${'x'.repeat(40)}y`]: 'no' }))), 'a key the pattern does not match is free')
    assert.throws(() => view.check('props/a', bytes(JSON.stringify({ ['x'.repeat(40)]: 'no' }))), (err: any) => err.code === 1008)
  })

  it('compiles a schema once per version of its key', () => {
    const schemas = new Schemas()
    const integer = row('n/', '{"type":"integer"}', 1)
    schemas.view(source(integer)).check('n/a', bytes('1'))
    // the same version with other bytes cannot happen; here it shows the validator was kept
    assert.doesNotThrow(() => schemas.view(source({ ...integer, value: Buffer.from('{"type":"string"}') })).check('n/a', bytes('1')))
    assert.throws(() => schemas.view(source(row('n/', '{"type":"string"}', 2))).check('n/a', bytes('1')), { name: 'SchemaViolationError' })
  })

  it('lets go of a schema version no longer in use (ajv keeps every schema it compiled)', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const schemas = new Schemas()
    const version = (i: number): any => row('n/', JSON.stringify({ type: 'integer', maximum: i }), i)
    schemas.view(source(version(1))).check('n/a', bytes('1'))
    const first = new WeakRef((schemas as any).compiled.get('n/').validate as object)
    for (let i = 2; i <= 300; i++) {
      schemas.view(source(version(i - 1))).check('_schema/n/', version(i).value) // a put of the next version
      schemas.view(source(version(i))).check('n/a', bytes('1'))
    }
    await new Promise(resolve => setImmediate(resolve)) // a WeakRef holds its target until the job that made it ends
    gc()
    assert.equal(first.deref(), undefined, 'the first version\'s validator is still held')
  })

  it('reads the schema keys once, and again after any of them changes, whoever wrote it', () => {
    const alice = new Replica({ store: new MemoryStore(), nodeId: 'alice', now: () => 1_000 })
    const bob = new Replica({ store: new MemoryStore(), nodeId: 'bob', now: () => 1_000 })
    let reads = 0
    const replica: SchemaSource = { list: (options, now) => { reads++; return alice.list(options, now) }, expiryClock: () => alice.expiryClock(), store: alice.store }
    const schemas = new Schemas()
    schemas.view(replica).check('n/a', bytes('"text"'))
    alice.write([{ key: 'other', value: bytes('1') }])
    schemas.view(replica).check('n/a', bytes('"text"'))
    assert.equal(reads, 1, 'a write outside _schema/ keeps the cache')
    alice.receive(bob.write([{ key: '_schema/n/', value: bytes('{"type":"integer"}') }]))
    assert.throws(() => schemas.view(replica).check('n/a', bytes('"text"')), { name: 'SchemaViolationError' })
    assert.equal(reads, 2, 'a peer\'s op under _schema/ was read again')
    alice.write([{ key: '_schema/n/', value: null }])
    assert.doesNotThrow(() => schemas.view(replica).check('n/a', bytes('"text"')))
    assert.equal(reads, 3, 'this node\'s own delete was read again')
  })

  it('a schema whose TTL ran out governs nothing from that moment, before any sweep has passed it', () => {
    let now = 1_000
    const alice = new Replica({ store: new MemoryStore(), nodeId: 'alice', now: () => now })
    const schemas = new Schemas()
    alice.write([{ key: '_schema/', value: bytes('{"type":"integer"}') }, { key: '_schema/cfg/', value: bytes('{}'), ttlMs: 1_000 }])
    assert.doesNotThrow(() => schemas.view(alice).check('cfg/x', bytes('"text"')), 'the lenient schema governs cfg/ while it lives')
    now = 2_500
    assert.throws(() => schemas.view(alice).check('cfg/x', bytes('"text"')), { name: 'SchemaViolationError' }, 'once it expired, the schema of the empty prefix governs cfg/')
  })
})

describe('schemas', () => {
  const pair = usePair()
  let files = 0

  /** Writes `schema` to a new file and sets it for `prefix` on `node`. */
  async function setSchema (node: TestNode, prefix: string, schema: unknown): Promise<Awaited<ReturnType<TestNode['ctl']>>> {
    const file = join(pair.cluster.dir, `schema-${files++}.json`)
    writeFileSync(file, JSON.stringify(schema))
    return await node.ctl(['schema', 'set', prefix, file])
  }

  /** Waits until `node` holds `schema` for `prefix`. */
  async function holds (node: TestNode, prefix: string, schema: unknown): Promise<void> {
    await waitFor(async () => {
      const got = await node.ctl(['schema', 'get', prefix])
      return got.code === 0 && JSON.stringify(JSON.parse(got.stdout)) === JSON.stringify(schema)
    }, `the schema for ${prefix} on ${node.name}`)
  }

  const replicas = (minimum: number): unknown => ({
    type: 'object', required: ['replicas'], properties: { replicas: { type: 'integer', minimum } }
  })

  it('a schema set on one node governs puts on another: refused with 1008 and exit 6, good puts replicate', async () => {
    const { alice, bob } = pair
    const set = await setSchema(alice, 'cfg/', replicas(1))
    assert.equal(set.code, 0, set.stderr)
    await holds(bob, 'cfg/', replicas(1))
    assert.equal((await bob.ctl(['schema', 'list'])).stdout, 'cfg/\n')

    const bad = await bob.ctl(['put', '--json', 'cfg/db', '{"replicas":"three"}'])
    assert.equal(bad.code, 6, bad.stderr)
    assert.match(bad.stderr, /^murmurctl: "cfg\/db" does not match the schema for prefix "cfg\/": value\/replicas must be integer\n$/)
    const client = await RawClient.connect(bob.socket)
    try {
      const answer = await client.request('kv_put', { key: 'cfg/db', value: { replicas: 0 }, type: 'json' })
      assert.equal(answer.error?.code, 1008, JSON.stringify(answer))
      assert.equal(answer.error.data.name, 'SchemaViolationError')
      assert.equal(answer.error.data.prefix, 'cfg/')
      assert.match(answer.error.message, /value\/replicas must be >= 1/)
    } finally {
      client.destroy()
    }
    const text = await bob.ctl(['put', 'cfg/db', 'three'])
    assert.equal(text.code, 6, 'a text value under a schema must be JSON')
    assert.match(text.stderr, /its value is not JSON/)
    assert.equal((await bob.ctl(['get', 'cfg/db'])).code, 4, 'nothing was written')

    assert.equal((await bob.ctl(['put', '--json', 'cfg/db', '{"replicas":3}'])).code, 0)
    assert.equal((await bob.ctl(['put', 'cfg/text', '{"replicas":2}'])).code, 0, 'text that is valid JSON is checked as JSON')
    assert.equal((await bob.ctl(['put', 'free', 'anything'])).code, 0, 'keys under no schema are not checked')
    await waitFor(async () => (await alice.ctl(['get', 'cfg/db'])).stdout === '{"replicas":3}\n', 'cfg/db on alice')

    const dump = join(pair.cluster.dir, 'dump.ndjson')
    writeFileSync(dump, '{"key":"cfg/imported","type":"json","value":"{\\"replicas\\":-1}"}\n')
    const imported = await bob.ctl(['import', dump])
    assert.equal(imported.code, 6, imported.stderr)
    assert.match(imported.stderr, /line 1: "cfg\/imported" does not match the schema for prefix "cfg\/"/)
  })

  it('the longest prefix wins; a changed schema and a deleted one take effect', async () => {
    const { alice, bob } = pair
    assert.equal((await setSchema(alice, 'cfg/db/', { type: 'string' })).code, 0)
    await holds(bob, 'cfg/db/', { type: 'string' })
    assert.equal((await bob.ctl(['put', '--json', 'cfg/db/name', '"main"'])).code, 0)
    assert.equal((await bob.ctl(['put', '--json', 'cfg/db/name', '{"replicas":3}'])).code, 6, 'cfg/db/ governs, not cfg/')

    assert.equal((await setSchema(alice, 'cfg/', replicas(5))).code, 0)
    await holds(bob, 'cfg/', replicas(5))
    const stricter = await bob.ctl(['put', '--json', 'cfg/web', '{"replicas":3}'])
    assert.equal(stricter.code, 6)
    assert.match(stricter.stderr, /must be >= 5/)

    assert.equal((await alice.ctl(['schema', 'del', 'cfg/'])).code, 0)
    await waitFor(async () => (await bob.ctl(['schema', 'list'])).stdout === 'cfg/db/\n', 'cfg/ deleted on bob')
    assert.equal((await bob.ctl(['put', '--json', 'cfg/web', '{"replicas":3}'])).code, 0)
  })

  it('a schema whose TTL ran out stops governing at once: from the first read that finds it gone, the next schema governs', async () => {
    const { alice, bob } = pair
    assert.equal((await setSchema(alice, 'exp/', { type: 'integer' })).code, 0)
    await holds(bob, 'exp/', { type: 'integer' })
    const lenient = await alice.ctl(['put', '--json', '--ttl', '6s', '_schema/exp/cfg/', '{}'])
    assert.equal(lenient.code, 0, lenient.stderr)
    await holds(bob, 'exp/cfg/', {})
    const client = await RawClient.connect(bob.socket)
    try {
      let after = 0
      let gone: number | undefined
      const accepted: unknown[] = []
      const refusedEarly: unknown[] = []
      // each put, then a get, on one connection, answered in order: a get that still finds the lenient schema says
      // it lived at the put before it (which it must govern); once a get has found it gone, every put after is checked
      // against exp/'s (kept up past the expiry sweep, 1 s). The put just before the first get that finds it gone may
      // have come either side of the expiry: neither is asked of it.
      await waitFor(async () => {
        const afterGone = gone !== undefined
        const put = await client.request('kv_put', { key: 'exp/cfg/x', value: '"text"' })
        const schema = await client.request('kv_get', { key: '_schema/exp/cfg/' })
        if (afterGone) {
          after++
          if (put.error?.code !== 1008) accepted.push({ after, ms: Date.now() - (gone ?? 0), put })
        } else if (schema.result != null && put.error !== undefined) refusedEarly.push(put)
        if (schema.result == null) gone ??= Date.now()
        return gone !== undefined && Date.now() - gone > 1_500 && after >= 10
      }, 'the lenient schema to expire, and puts for 1.5 s after', 30_000, 5)
      assert.deepEqual(refusedEarly, [], 'the lenient schema governs while it lives')
      assert.deepEqual(accepted, [], 'puts after the lenient schema expired were checked against it, not against exp/\'s')
    } finally {
      client.destroy()
    }
  })

  it('a schema whose pattern cannot be matched in linear time is refused (1009, exit 6) and not stored', async () => {
    const { alice } = pair
    const bad = await setSchema(alice, 'rx/', { type: 'string', pattern: '^(a|aa)+\\1$' })
    assert.equal(bad.code, 6, bad.stderr)
    assert.match(bad.stderr, /cannot be matched in linear time/)
    assert.equal((await alice.ctl(['schema', 'get', 'rx/'])).code, 4)
    assert.equal((await setSchema(alice, 'rx/', { type: 'string', pattern: '^(a+)+$' })).code, 0)
    const started = Date.now()
    const refused = await alice.ctl(['put', '--json', 'rx/k', JSON.stringify(`${'a'.repeat(40)}b`)])
    assert.equal(refused.code, 6, refused.stderr)
    assert.match(refused.stderr, /does not match the schema for prefix "rx\/"/)
    console.log(`# a put against ^(a+)+$ with 40 a's and a b refused in ${Date.now() - started} ms (murmurctl's start included)`)
  })

  it('a schema ajv cannot compile is refused with its message (1009, exit 6) and not stored', async () => {
    const { alice } = pair
    const bad = await setSchema(alice, 'svc/', { type: 'nosuchtype' })
    assert.equal(bad.code, 6)
    assert.match(bad.stderr, /^murmurctl: not a valid JSON Schema for prefix "svc\/": schema is invalid: data\/type must be equal to one of the allowed values/)
    assert.equal((await alice.ctl(['schema', 'get', 'svc/'])).code, 4)
    const client = await RawClient.connect(alice.socket)
    try {
      const answer = await client.request('kv_put', { key: '_schema/svc/', value: { type: 'object', requird: ['a'] }, type: 'json' })
      assert.equal(answer.error?.code, 1009, JSON.stringify(answer))
      assert.match(answer.error.message, /unknown keyword: "requird"/)
    } finally {
      client.destroy()
    }
  })

  it('a member\'s schema of false under the empty prefix refuses every put everywhere, and any member can undo it: deletes and schema keys are never checked', async () => {
    const { alice, bob } = pair
    assert.equal((await bob.ctl(['put', 'undo/k', 'v'])).code, 0)
    // the Security section's hostile member: a schema no value matches, for every key
    assert.equal((await setSchema(alice, '', false)).code, 0)
    await holds(bob, '', false)
    const refused = await bob.ctl(['put', '--json', 'undo/other', '{"any":"json"}'])
    assert.equal(refused.code, 6, refused.stderr)
    assert.match(refused.stderr, /"undo\/other" does not match the schema for prefix ""/)
    assert.equal((await bob.ctl(['put', 'undo/k', 'v'])).code, 6, 'text is refused too')
    // what stays open to every member: deleting a key, and writing schemas (under _schema/, governed by none)
    assert.equal((await bob.ctl(['del', 'undo/k'])).code, 0, 'a delete is never checked')
    assert.equal((await bob.ctl(['get', 'undo/k'])).code, 4)
    assert.equal((await setSchema(bob, 'undo/', { type: 'string' })).code, 0, 'a schema key is governed by no schema')
    assert.equal((await bob.ctl(['put', '--json', 'undo/other', '"text"'])).code, 0, 'the longer prefix bob set governs undo/, not the empty one')
    const undone = await bob.ctl(['schema', 'del', ''])
    assert.equal(undone.code, 0, undone.stderr)
    await waitFor(async () => (await alice.ctl(['put', 'after', 'v'])).code === 0, 'puts to work again on alice once bob deleted the schema', 10_000)
    assert.equal((await bob.ctl(['put', 'after-bob', 'v'])).code, 0)
    assert.equal((await bob.ctl(['schema', 'del', 'undo/'])).code, 0)
  })
})
