/** Typed values: the type is signed inside the op, replicated, stored in its own column, and old files migrate. */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { MemoryStore, OpCodecError, SCHEMA_VERSION, SqliteStore, decodeOps, encodeOps, opDigest, proofProblem, type Op } from '../src/index.js'
import { Clock, Keys, bytes, op, plain, pull, put, replicaFactory, rowsOf, storeFactory, tempDir, UNDO_VERSION_5 } from './helpers.js'
import type { Replica } from '../src/index.js'

const dir = tempDir()

/** A replica's rows without murmur's own records (attestations differ per node). */
const userRows = (replica: Replica): object[] => rowsOf(replica.store).filter(row => !(row as Op).key.startsWith('\0'))

describe('value types in the op codec', () => {
  it('round-trips json and binary ops and keeps text ops byte for byte as before types', () => {
    const text = op('k', 'v')
    // flags byte 0: what format 2 wrote before types existed, so old signatures still verify
    assert.equal(Buffer.from(encodeOps([text])).toString('hex'), '02010570656572410001000' + '16b' + '0176' + '01000001')
    fc.assert(fc.property(fc.constantFrom(undefined, 'json', 'binary'), fc.uint8Array({ maxLength: 20 }), (type, value) => {
      const typed: Op = { ...op('k', null), value, ...(type !== undefined ? { type } : {}) }
      assert.deepEqual(decodeOps(encodeOps([typed])), [typed])
    }))
  })

  it('signs the type: the same bytes as json and as text have different digests', () => {
    const text = op('k', '{}')
    assert.notDeepEqual(opDigest({ ...text, type: 'json' }), opDigest(text))
    assert.notDeepEqual(opDigest({ ...text, type: 'binary' }), opDigest({ ...text, type: 'json' }))
    assert.deepEqual(opDigest({ ...text, type: 'text' as unknown as 'json' }), opDigest(text))
  })

  it('refuses a typed delete and an unknown type, encoding and decoding', () => {
    assert.throws(() => encodeOps([{ ...op('k', null), type: 'json' }]), (err: Error) => err instanceof OpCodecError && /delete with a value type/.test(err.message))
    assert.throws(() => encodeOps([{ ...op('k', 'v'), type: 'yaml' as 'json' }]), (err: Error) => err instanceof OpCodecError && /unknown value type "yaml"/.test(err.message))
    const encoded = encodeOps([op('k', 'v')])
    const flagsAt = encoded.indexOf(0x6b) - 2 // flags, key length, then the key 'k'
    for (const [flags, message] of [[0b1100, /unknown value type 3/], [0b0101, /delete with a value type/], [0b10000000, /unknown flags/], [0b1000000, /refresh without an expiry/]] as const) {
      const bad = Uint8Array.from(encoded)
      bad[flagsAt] = flags
      assert.throws(() => decodeOps(bad), (err: Error) => err instanceof OpCodecError && message.test(err.message), `flags ${flags}`)
    }
  })
})

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`value types through replicas (${kind} store)`, () => {
    const keys = new Keys()
    const clock = new Clock()
    const replica = replicaFactory(keys, clock, storeFactory(kind, dir))

    it('a typed write is signed, stored with its type and reaches another replica whole', () => {
      const alice = replica('alice')
      const bob = replica('bob')
      const written = alice.write([{ key: 'cfg', value: bytes('{"replicas":3}'), type: 'json' }, { key: 'blob', value: Uint8Array.of(0, 255), type: 'binary' }, { key: 'name', value: bytes('x'), type: 'text' }])
      const json = written[0]
      alice.markDurable(3)
      assert.equal(json?.type, 'json')
      for (const signed of written) assert.equal(proofProblem(signed), undefined)
      // the type is under the signature: relabelled, the op no longer matches its batch
      assert.equal(proofProblem({ ...(json as Op), type: 'binary' }), 'op does not match its signed batch')
      assert.equal(alice.get('cfg')?.type, 'json')
      assert.equal(alice.get('blob')?.type, 'binary')
      assert.equal(alice.get('name')?.type, undefined)
      pull(bob, alice)
      assert.deepEqual(userRows(bob), userRows(alice))
      assert.equal(bob.get('cfg')?.type, 'json')
      // a newer text write replaces the type; the json op waits in history with its type, and is served whole
      put(alice, 'cfg', 'plain')
      assert.equal(alice.get('cfg')?.type, undefined)
      const carol = replica('carol')
      pull(carol, alice)
      assert.deepEqual(userRows(carol), userRows(alice))
      assert.equal(carol.get('cfg')?.type, undefined)
    })
  })
}

describe('schema version 5 (value types)', () => {
  it('opens a version 4 file (and brings it to the latest): every row reads as text, with its digest, and typed writes work after', () => {
    const path = join(dir, 'v4.db')
    const store = SqliteStore.open(path)
    store.put(op('old', 'value'), opDigest(op('old', 'value')))
    store.close()
    // the file as version 4 left it: no type columns
    const db = new Database(path)
    db.exec(`${UNDO_VERSION_5} UPDATE meta SET value = 4 WHERE name = 'schema_version'`)
    db.close()
    const reopened = SqliteStore.open(path)
    assert.deepEqual(plain(reopened.row('old')), plain(op('old', 'value')))
    const typed: Op = { ...op('new', '[1]'), type: 'json', seq: 2 }
    reopened.put(typed, opDigest(typed))
    assert.deepEqual(plain(reopened.row('new')), plain(typed))
    reopened.close()
    const check = new Database(path, { readonly: true })
    assert.deepEqual(check.prepare('SELECT key, type FROM kv_store ORDER BY key').all(), [{ key: 'new', type: 'json' }, { key: 'old', type: 'text' }])
    assert.equal(Number(check.prepare("SELECT value FROM meta WHERE name = 'schema_version'").pluck().get()), SCHEMA_VERSION)
    check.close()
  })

  it('keeps the type in a memory store too', () => {
    const store = new MemoryStore()
    const typed: Op = { ...op('k', 'AA=='), type: 'binary' }
    store.put(typed, opDigest(typed))
    assert.equal(store.row('k')?.type, 'binary')
  })
})
