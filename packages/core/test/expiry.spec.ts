/**
 * Expiry (see replica/expiry.ts): signed inside the op, ranked never,
 * visible until this node's HLC reaches it, collected like a tombstone, and
 * the same on every replica whatever the delivery order and clock skew.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { OpCodecError, SCHEMA_VERSION, SqliteStore, decodeOps, encodeOps, opDigest, proofProblem, type Op, type Replica } from '../src/index.js'
import { Clock, Keys, attest, bytes, mesh, op, plain, pull, put, replicaFactory, rowsOf, storeFactory, tempDir, text, UNDO_VERSIONS_7_8 } from './helpers.js'

const dir = tempDir()
const keys = new Keys()
const GRACE = 1_000

/** A write with a TTL, marked durable. */
function putFor (replica: Replica, key: string, value: string, ttlMs: number): Op {
  const [written] = replica.write([{ key, value: bytes(value), ttlMs }])
  replica.markDurable((written as Op).seq)
  return written as Op
}

const userRows = (replica: Replica): object[] => rowsOf(replica.store).filter(row => !(row as Op).key.startsWith('\0'))

describe('expiry in the op codec', () => {
  it('writes bit 4 and the expiry right after the value, round-trips it, and signs it', () => {
    const plainOp = op('k', 'v')
    const expiring: Op = { ...plainOp, expires: 300 }
    const encoded = Buffer.from(encodeOps([expiring])).toString('hex')
    // flags 0x10, key 'k', value 'v', expires 300 (varint ac 02), then wall 1, logical 0, origin 0, seq 1
    assert.ok(encoded.endsWith('10' + '016b' + '0176' + 'ac02' + '01000001'), encoded)
    assert.deepEqual(decodeOps(encodeOps([expiring])), [expiring])
    assert.notDeepEqual(opDigest(expiring), opDigest(plainOp))
    assert.notDeepEqual(opDigest(expiring), opDigest({ ...plainOp, expires: 301 }))
    fc.assert(fc.property(fc.option(fc.constantFrom<'json' | 'binary'>('json', 'binary'), { nil: undefined }), fc.nat({ max: Number.MAX_SAFE_INTEGER }), (type, expires) => {
      const typed: Op = { ...plainOp, ...(type !== undefined ? { type } : {}), expires }
      assert.deepEqual(decodeOps(encodeOps([typed])), [typed])
    }))
  })

  it('refuses a delete with an expiry, encoding and decoding', () => {
    assert.throws(() => encodeOps([{ ...op('k', null), expires: 5 }]), (err: Error) => err instanceof OpCodecError && /delete with a value type or an expiry/.test(err.message))
    const encoded = encodeOps([{ ...op('k', 'v'), expires: 5 }])
    const flagsAt = encoded.indexOf(0x6b) - 2
    const bad = Uint8Array.from(encoded)
    bad[flagsAt] = 0b10001
    assert.throws(() => decodeOps(bad), (err: Error) => err instanceof OpCodecError && /delete with a value type or an expiry/.test(err.message))
  })
})

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`expiry through replicas (${kind} store)`, () => {
    const clock = new Clock()
    const replica = replicaFactory(keys, clock, storeFactory(kind, dir), { tombstoneGraceMs: GRACE })

    it('a value with a TTL is signed with its expiry, reads until then on every replica, and as absent after', () => {
      const alice = replica('alice')
      const bob = replica('bob')
      const written = putFor(alice, 'lease', 'alice', 3_000)
      assert.equal(written.expires, written.wall + 3_000)
      assert.equal(proofProblem(written), undefined)
      assert.equal(proofProblem({ ...written, expires: written.expires as number + 1 }), 'op does not match its signed batch', 'a relay cannot stretch it')
      pull(bob, alice)
      assert.equal(text(bob.get('lease')?.value), 'alice')
      assert.equal(bob.get('lease')?.expires, written.expires)
      assert.deepEqual(bob.list({ prefix: 'lea' }).map(o => o.key), ['lease'])
      clock.advance(2_999)
      assert.ok(alice.get('lease') !== undefined && bob.get('lease') !== undefined, 'a millisecond before')
      clock.advance(1)
      for (const node of [alice, bob]) {
        assert.equal(node.get('lease'), undefined, `${node.nodeId}: gone at the expiry`)
        assert.deepEqual(node.list({ prefix: 'lea' }), [])
      }
      assert.deepEqual(userRows(bob), userRows(alice), 'the expired row stays, the same on both')
      // a newer write brings the key back
      put(bob, 'lease', 'bob')
      pull(alice, bob)
      assert.equal(text(alice.get('lease')?.value), 'bob')
    })

    it('an HLC stamp seen from a peer past the expiry expires the key, whatever the local clock says', () => {
      const alice = replica('alice')
      const bob = replica('bob', { now: () => clock.now() + 5_000 }) // bob's clock runs 5 s ahead, within the skew bound
      putFor(alice, 'k', 'v', 2_000)
      pull(bob, alice)
      assert.equal(bob.get('k'), undefined, 'bob is past it already')
      put(bob, 'other', 'x')
      pull(alice, bob)
      assert.equal(alice.get('k'), undefined, 'alice saw a stamp past the expiry: her HLC is past it too')
    })

    it('an older op arriving after the expiry does not bring the key back', () => {
      const alice = replica('alice')
      const carol = replica('carol')
      const bob = replica('bob')
      const old = put(carol, 'k', 'old') // carol writes first, and is cut off
      clock.advance(10)
      putFor(alice, 'k', 'new', 1_000)
      pull(bob, alice)
      clock.advance(2_000)
      assert.equal(bob.get('k'), undefined)
      pull(bob, carol) // carol's older write turns up
      assert.equal(bob.get('k'), undefined, 'it lost to the expired write')
      assert.equal(bob.store.row('k')?.origin, 'alice')
      assert.ok(old.wall < (bob.store.row('k') as Op).wall)
    })

    it('a member\'s expiry is a claim like any other: one before its write hides the value everywhere, one far ahead keeps it', () => {
      const [alice, bob, mallory] = ['alice', 'bob', 'mallory'].map(id => replica(id)) as [Replica, Replica, Replica]
      put(alice, 'past', 'older, from alice')
      clock.advance(1)
      const [born, far] = mallory.write([{ key: 'past', value: bytes('never shown'), expires: 0 }, { key: 'far', value: bytes('forever'), expires: Number.MAX_SAFE_INTEGER }])
      mallory.markDurable((far as Op).seq)
      assert.equal(proofProblem(born as Op), undefined, 'signed like any op')
      mesh([alice, bob, mallory], 1)
      for (const node of [alice, bob, mallory]) {
        assert.equal(node.get('past'), undefined, `${node.nodeId}: an expiry before the write: never shown`)
        assert.equal(node.store.row('past')?.origin, 'mallory', `${node.nodeId}: yet it is the row, so alice's older write stays beaten`)
        assert.equal(text(node.get('far')?.value), 'forever')
        assert.ok(node.sweptExpiry(node.store.row('past') as Op), 'watchers hear expire, not put')
      }
      assert.deepEqual(userRows(bob), userRows(alice))
      assert.deepEqual(userRows(mallory), userRows(alice))
      clock.advance(GRACE)
      mesh([alice, bob, mallory], 2)
      for (const node of [alice, bob, mallory]) node.collect()
      for (const node of [alice, bob, mallory]) {
        assert.equal(node.store.row('past'), undefined, `${node.nodeId}: collected as a tombstone`)
        assert.ok(node.get('far') !== undefined)
      }
    })

    it('the sweep gives each expired row one new change cursor, once', () => {
      const alice = replica('alice')
      const written = putFor(alice, 'k', 'v', 1_000)
      const putCursor = alice.store.cursorOf(written) as number
      assert.deepEqual(alice.expire(), [])
      clock.advance(1_000)
      const expired = alice.expire()
      assert.deepEqual(expired.map(o => o.key), ['k'])
      assert.ok((alice.store.cursorOf(expired[0] as Op) as number) > putCursor, 'the op returned carries its new cursor')
      const [change] = alice.store.changes(putCursor, 10)
      assert.ok(change !== undefined && change.cursor > putCursor && change.op.key === 'k', 'a new cursor after the put')
      assert.ok(alice.sweptExpiry(change.op))
      assert.deepEqual(alice.expire(), [], 'once')
    })

    it('an expired value is collected as a tombstone: once every member holds it and its expiry is the grace period old', () => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id)) as [Replica, Replica]
      putFor(alice, 'k', 'v', 500)
      put(alice, 'stays', 'x')
      mesh([alice, bob])
      clock.advance(500)
      assert.equal(alice.collect().tombstones, 0, 'expired, but not the grace period ago')
      clock.advance(GRACE)
      mesh([alice, bob])
      for (const node of [alice, bob]) {
        assert.equal(node.collect().tombstones, 1, node.nodeId)
        assert.equal(node.store.row('k'), undefined)
        assert.ok(node.status().horizon.wall > 0, 'the horizon moved to the expired write')
      }
      assert.deepEqual(userRows(bob), userRows(alice))
    })
  })
}

describe('expiry is deterministic', () => {
  it('any delivery order and clock skew within the bound: every replica holds the same row and shows the same keys at every moment', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ node: fc.nat(2), key: fc.constantFrom('a', 'b'), ttl: fc.option(fc.integer({ min: 1, max: 3_000 }), { nil: undefined }), advance: fc.nat(1_500) }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.integer({ min: -2_000, max: 2_000 }), { minLength: 3, maxLength: 3 }),
      fc.array(fc.tuple(fc.nat(2), fc.nat(2)), { maxLength: 12 }),
      (writes, skews, pulls) => {
        const clock = new Clock()
        const replica = replicaFactory(keys, clock, storeFactory('memory', dir), { maxClockSkewMs: 60_000 })
        const nodes = ['n0', 'n1', 'n2'].map((id, i) => replica(id, { now: () => clock.now() + (skews[i] as number) }))
        writes.forEach((w, i) => {
          const node = nodes[w.node] as Replica
          if (w.ttl === undefined) put(node, w.key, `v${i}`)
          else putFor(node, w.key, `v${i}`, w.ttl)
          clock.advance(w.advance)
          const [from, to] = pulls[i] ?? [0, 0]
          if (from !== to) pull(nodes[to] as Replica, nodes[from] as Replica)
        })
        mesh(nodes, 1)
        assert.deepEqual(userRows(nodes[1] as Replica), userRows(nodes[0] as Replica))
        assert.deepEqual(userRows(nodes[2] as Replica), userRows(nodes[0] as Replica))
        // at each HLC moment every replica shows the same keys: now, and either side of each expiry still ahead
        const now = Math.max(...nodes.map(n => n.expiryClock()))
        const expiries = nodes[0]?.store.rows().flatMap(o => o.expires !== undefined && o.expires > now ? [o.expires - 1, o.expires] : []) ?? []
        for (const at of [now, ...expiries]) {
          const shown = nodes.map(n => ['a', 'b'].map(key => plain(n.get(key, at))))
          assert.deepEqual(shown[1], shown[0], `at ${at}`)
          assert.deepEqual(shown[2], shown[0], `at ${at}`)
        }
      }
    ), { numRuns: 60 })
  })
})

describe('schema version 7 (expiry)', () => {
  it('opens a version 6 file: every row without expiry, and expiring writes work after', () => {
    const path = join(dir, 'v6.db')
    const store = SqliteStore.open(path)
    store.put(op('old', 'value'), opDigest(op('old', 'value')))
    store.close()
    const db = new Database(path)
    db.exec(`${UNDO_VERSIONS_7_8} UPDATE meta SET value = 6 WHERE name = 'schema_version'`)
    db.close()
    const reopened = SqliteStore.open(path)
    assert.deepEqual(plain(reopened.row('old')), plain(op('old', 'value')))
    const expiring: Op = { ...op('new', 'x', { seq: 2 }), expires: 99 }
    reopened.put(expiring, opDigest(expiring))
    assert.deepEqual(reopened.expiring(0, 100, -1).map(o => o.key), ['new'])
    reopened.close()
    const check = new Database(path, { readonly: true })
    assert.deepEqual(check.prepare('SELECT key, expires FROM kv_store ORDER BY key').all(), [{ key: 'new', expires: 99 }, { key: 'old', expires: null }])
    assert.equal(Number(check.prepare("SELECT value FROM meta WHERE name = 'schema_version'").pluck().get()), SCHEMA_VERSION)
    check.close()
  })
})
