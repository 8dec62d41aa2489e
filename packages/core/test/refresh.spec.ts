/**
 * Keepalive refreshes (`Op.refresh`): a signed bit, set only by a write that
 * really refreshes this node's own put, and never a version of a key's
 * history, whatever order the ops arrive in.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { OpCodecError, SCHEMA_VERSION, SqliteStore, decodeOps, encodeOps, opDigest, signingPayload, type Change, type Op, type Replica } from '../src/index.js'
import { Clock, Keys, UNDO_VERSION_9, olderFile, bytes, op, pull, replicaFactory, storeFactory, tempDir, text } from './helpers.js'

const dir = tempDir()
const TTL = 1_000_000_000

function write (replica: Replica, change: Change): Op {
  const [written] = replica.write([change])
  replica.markDurable((written as Op).seq)
  return written as Op
}

const ttlPut = (replica: Replica, value: string): Op => write(replica, { key: 'k', value: bytes(value), ttlMs: TTL })
const refresh = (replica: Replica, value: string): Op => write(replica, { key: 'k', value: bytes(value), ttlMs: TTL, refresh: true })

describe('the refresh bit in the op codec', () => {
  const base: Op = { ...op('k', 'v', { origin: 'alice', seq: 3, wall: 10 }), expires: 99, seen: { wall: 7, logical: 0, origin: 'alice' } }

  it('round-trips and is signed', () => {
    const refreshed: Op = { ...base, refresh: true }
    assert.equal(decodeOps(encodeOps([refreshed]))[0]?.refresh, true)
    assert.equal(decodeOps(encodeOps([base]))[0]?.refresh, undefined)
    assert.notDeepEqual(opDigest(refreshed), opDigest(base), 'the bit is covered by the digest')
    assert.deepEqual(opDigest(refreshed), opDigest(decodeOps(signingPayload(refreshed))[0] as Op), 'the fast payload is the canonical encoding')
  })

  it('refuses a refresh without an expiry, or whose seen version is another origin\'s, encoding and decoding', () => {
    const { expires, ...noExpiry } = base
    for (const bad of [{ ...noExpiry, refresh: true }, { ...base, seen: { wall: 7, logical: 0, origin: 'bob' }, refresh: true }, { ...noExpiry, seen: undefined, refresh: true }] as Op[]) {
      if (bad.seen === undefined) delete bad.seen
      assert.throws(() => encodeOps([bad]), (err: Error) => err instanceof OpCodecError && /refresh without an expiry or a seen version of its own origin/.test(err.message))
    }
    // the bit set on the wire over an op that cannot be a refresh
    const encoded = encodeOps([{ ...base, seen: { wall: 7, logical: 0, origin: 'bob' } }])
    const flagsAt = encoded.indexOf(0x6b) - 2 // flags, key length, then the key 'k'
    const bad = Uint8Array.from(encoded)
    bad[flagsAt] = (bad[flagsAt] as number) | 0x40
    assert.throws(() => decodeOps(bad), (err: Error) => err instanceof OpCodecError && /op 0 is a refresh without an expiry/.test(err.message))
  })
})

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`refreshes and history (${kind})`, () => {
    const open = storeFactory(kind, dir)
    const setup = (init = {}): { make: (id: string) => Replica, clock: Clock } => {
      const clock = new Clock()
      return { make: replicaFactory(new Keys(), clock, open, init), clock }
    }
    const report = (r: Replica): string[] => r.history('k').map(p => `${text(p.op.value)}@${p.op.origin}${p.conflict !== undefined ? ' conflict' : ''}`)

    it('sets the bit only on a write that refreshes this node\'s own put with an expiry, of the same value and type', () => {
      const { make, clock } = setup()
      const alice = make('alice')
      const bob = make('bob')
      assert.equal(refresh(alice, 'up').refresh, undefined, 'no row: a plain put')
      clock.advance(1)
      assert.equal(refresh(alice, 'up').refresh, true)
      clock.advance(1)
      assert.equal(refresh(alice, 'changed').refresh, undefined, 'another value')
      clock.advance(1)
      assert.equal(write(alice, { key: 'k', value: bytes('changed'), ttlMs: TTL, type: 'json', refresh: true }).refresh, undefined, 'another type')
      clock.advance(1)
      write(alice, { key: 'k', value: bytes('plain') })
      clock.advance(1)
      assert.equal(refresh(alice, 'plain').refresh, undefined, 'the row never expires')
      clock.advance(1)
      assert.equal(refresh(alice, 'plain').refresh, true)
      pull(bob, alice)
      clock.advance(1)
      assert.equal(refresh(bob, 'plain').refresh, undefined, 'alice\'s row, not bob\'s')
      pull(alice, bob)
      assert.equal(alice.get('k')?.refresh, undefined, 'bob\'s plain put won everywhere')
    })

    it('keeps no refresh in history: twenty refreshes leave the real versions, on the writer and on a replica', () => {
      const { make, clock } = setup({ historyVersions: 4 })
      const alice = make('alice')
      const bob = make('bob')
      ttlPut(alice, 'v1')
      clock.advance(1)
      ttlPut(alice, 'v2')
      for (let i = 0; i < 20; i++) {
        clock.advance(1)
        assert.equal(refresh(alice, 'v2').refresh, true)
        if (i === 7) pull(bob, alice)
      }
      pull(bob, alice)
      assert.deepEqual(report(alice), ['v2@alice', 'v1@alice'], 'v2 is history once refreshed; no refresh is')
      assert.deepEqual(report(bob), report(alice))
      assert.equal(bob.get('k')?.refresh, true, 'the row is the last refresh, flag and all')
      clock.advance(1)
      write(bob, { key: 'k', value: bytes('v3') })
      pull(alice, bob)
      assert.deepEqual(report(alice), ['v2@alice', 'v1@alice'], 'the refresh replaced is not kept either')
      assert.deepEqual(report(bob), report(alice))
    })

    it('marks nothing for a refresh: a write it beat is kept, and a conflict only if a real version had not seen it', () => {
      const { make, clock } = setup()
      const alice = make('alice')
      const bob = make('bob')
      ttlPut(alice, 'up')
      pull(bob, alice)
      clock.advance(1)
      write(bob, { key: 'k', value: bytes('bob\'s') }) // saw alice's put
      clock.advance(1)
      assert.equal(refresh(alice, 'up').refresh, true) // had not seen bob's write, and beats it
      pull(alice, bob)
      pull(bob, alice)
      assert.equal(text(alice.get('k')?.value), 'up')
      assert.deepEqual(report(alice), ['bob\'s@bob', 'up@alice'])
      assert.deepEqual(report(bob), report(alice))
      assert.equal(alice.status().conflicts, 0)
    })

    it('reports the same history and conflicts on every replica whatever order puts, deletes and refreshes arrive in', () => {
      fc.assert(fc.property(
        fc.array(fc.record({ node: fc.integer({ min: 0, max: 2 }), what: fc.constantFrom('put', 'del', 'ttl', 'refresh', 'refresh'), sync: fc.option(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }))) }), { minLength: 1, maxLength: 14 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })), { minLength: 0, maxLength: 6 }),
        fc.constantFrom(2, 4, 100),
        (steps, order, versions) => {
          const { make, clock } = setup({ historyVersions: versions, historyBytes: versions === 4 ? 6 : 1024 })
          const nodes = ['n0', 'n1', 'n2'].map(make)
          const last = ['', '', '']
          const ops: Op[] = []
          const exchange = (a: number, b: number): void => {
            pull(nodes[a] as Replica, nodes[b] as Replica)
            pull(nodes[b] as Replica, nodes[a] as Replica)
          }
          steps.forEach((step, i) => {
            clock.advance(1)
            const node = nodes[step.node] as Replica
            if (step.what === 'refresh' && last[step.node] !== '') ops.push(refresh(node, last[step.node] as string))
            else if (step.what === 'del') ops.push(write(node, { key: 'k', value: null }))
            else {
              last[step.node] = `w${i}`
              ops.push(step.what === 'put' ? write(node, { key: 'k', value: bytes(`w${i}`) }) : ttlPut(node, `w${i}`))
            }
            if (step.sync != null && step.sync[0] !== step.sync[1]) exchange(step.sync[0], step.sync[1])
          })
          for (const [a, b] of order) if (a !== b) exchange(a, b)
          for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) if (i !== j) exchange(i, j)
          const [first, ...rest] = nodes.map(report)
          for (const other of rest) assert.deepEqual(other, first)
          const current = nodes[0]?.store.row('k')
          const real = ops.filter(o => o.refresh !== true).length - (current?.refresh === true ? 0 : 1)
          if (versions === 100) assert.equal(first?.length, real, 'every version but the current one and the refreshes is in history')
          else assert.ok((first?.length ?? 0) <= versions - 1)
        }
      ), { numRuns: kind === 'memory' ? 300 : 80 })
    })
  })
}

describe('schema version 9 (refresh)', () => {
  it('brings a version 8 file up: its ops keep their bytes, and refreshes are stored with their bit after', () => {
    const path = join(dir, 'v8.db')
    const old: Op = { ...op('k', 'old', { origin: 'alice' }), expires: 50 }
    olderFile(path, [old], UNDO_VERSION_9, 8)
    const migrated = SqliteStore.open(path)
    const row = migrated.row('k') as Op
    assert.equal(row.refresh, undefined)
    assert.deepEqual(opDigest(row), opDigest(old), 'no bit, so the same digest and signature')
    const next: Op = { ...op('k', 'old', { origin: 'alice', wall: 5, seq: 2 }), expires: 60, seen: { wall: 1, logical: 0, origin: 'alice' }, refresh: true }
    migrated.transaction(() => {
      migrated.past.keepRow('k')
      migrated.put(next, opDigest(next))
    })
    assert.equal(migrated.row('k')?.refresh, true)
    assert.deepEqual(migrated.past.list('k', 10).map(p => text(p.op.value)), ['old'])
    migrated.close()
    const check = new Database(path, { readonly: true })
    assert.equal(Number(check.prepare("SELECT value FROM meta WHERE name = 'schema_version'").pluck().get()), SCHEMA_VERSION)
    assert.equal(check.prepare("SELECT refresh FROM kv_store WHERE key = 'k'").pluck().get(), 1, 'sqlite3 shows the bit')
    check.close()
  })
})
