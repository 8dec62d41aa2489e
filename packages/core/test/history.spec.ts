/**
 * History and honest conflicts in the replication core: what a write says it
 * had seen (signed, on the wire), the rule, its determinism over any delivery
 * order, and the bound.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import fc from 'fast-check'
import { PullSession, SCHEMA_VERSION, SqliteStore, concurrent, decodeOps, encodeOps, opDigest, proveOps, serve, signingPayload, type Op, type Replica, type Store } from '../src/index.js'
import { Clock, Keys, UNDO_VERSION_8, olderFile, bytes, op, pull, put, replicaFactory, storeFactory, tempDir, text, wire } from './helpers.js'

const dir = tempDir()

describe('seen in the op codec', () => {
  it('round-trips, with the seen origin in the origins table, and is signed', () => {
    const written: Op = { ...op('k', 'v', { origin: 'alice', seq: 3, wall: 10 }), seen: { wall: 7, logical: 2, origin: 'bob' } }
    const [back] = decodeOps(encodeOps([written]))
    assert.deepEqual(back?.seen, { wall: 7, logical: 2, origin: 'bob' })
    const own: Op = { ...written, seen: { wall: 0, logical: 0, origin: 'alice' } }
    assert.deepEqual(decodeOps(encodeOps([own]))[0]?.seen, own.seen)
    assert.notDeepEqual(opDigest(written), opDigest({ ...written, seen: { wall: 7, logical: 3, origin: 'bob' } }), 'seen is covered by the digest')
    assert.notDeepEqual(opDigest(written), opDigest({ ...written, seen: { wall: 7, logical: 2, origin: 'carol' } }))
    assert.deepEqual(opDigest(written), opDigest(decodeOps(signingPayload(written))[0] as Op), 'the fast payload is the canonical encoding')
  })

  it('leaves an op without seen byte for byte as before (flags 0, no origin added)', () => {
    const plainOp = op('k', 'v', { origin: 'alice' })
    const encoded = signingPayload(plainOp)
    // version, 1 origin "alice", 0 proofs, 1 op, flags 0, key "k", value "v", wall 1, logical 0, origin 0, seq 1
    assert.deepEqual([...encoded], [2, 1, 5, ...bytes('alice'), 0, 1, 0, 1, ...bytes('k'), 1, ...bytes('v'), 1, 0, 0, 1])
  })
})

describe('the conflict rule', () => {
  const v = (wall: number, origin = 'a'): Op => op('k', 'x', { wall, origin })
  it('W is concurrent with an older L exactly when W.seen is below L', () => {
    assert.equal(concurrent(v(5), { ...v(9, 'b'), seen: { wall: 4, logical: 0, origin: 'z' } }), true)
    assert.equal(concurrent(v(5), { ...v(9, 'b'), seen: { wall: 5, logical: 0, origin: 'a' } }), false, 'saw L itself')
    assert.equal(concurrent(v(5), { ...v(9, 'b'), seen: { wall: 6, logical: 0, origin: 'a' } }), false, 'saw something newer than L')
    assert.equal(concurrent(v(5), { ...v(9, 'b'), seen: { wall: 0, logical: 0, origin: 'b' } }), true, 'saw nothing')
    assert.equal(concurrent(v(5), v(9, 'b')), false, 'W without seen: not classified')
    assert.equal(concurrent(v(9), { ...v(5, 'b'), seen: { wall: 0, logical: 0, origin: 'b' } }), false, 'only a newer op wins')
  })
})

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`history and conflicts (${kind})`, () => {
    const open = storeFactory(kind, dir)
    const setup = (init = {}): { make: (id: string) => Replica, clock: Clock } => {
      const clock = new Clock()
      return { make: replicaFactory(new Keys(), clock, open, init), clock }
    }
    const exchange = (a: Replica, b: Replica): void => {
      pull(a, b)
      pull(b, a)
    }
    const report = (r: Replica): string[] => r.history('k').map(p => `${text(p.op.value)}@${p.op.origin}${p.conflict !== undefined ? ' conflict' : ''}`)

    it('keeps both of two concurrent writes, marks the loser a conflict on both replicas, and counts it', () => {
      const { make, clock } = setup()
      const alice = make('alice')
      const bob = make('bob')
      put(alice, 'k', 'from alice')
      clock.advance(5)
      put(bob, 'k', 'from bob')
      exchange(alice, bob)
      assert.equal(text(alice.get('k')?.value), 'from bob')
      assert.deepEqual(report(alice), ['from alice@alice conflict'])
      assert.deepEqual(report(bob), report(alice))
      assert.equal(alice.status().conflicts, 1)
      assert.equal(bob.status().conflicts, 1)
    })

    it('does not mark a write the next writer had seen', () => {
      const { make, clock } = setup()
      const alice = make('alice')
      const bob = make('bob')
      put(alice, 'k', 'one')
      exchange(alice, bob)
      clock.advance(5)
      put(bob, 'k', 'two')
      exchange(alice, bob)
      assert.deepEqual(report(alice), ['one@alice'])
      assert.deepEqual(report(bob), ['one@alice'])
      assert.equal(bob.status().conflicts, 0)
    })

    it('marks a value a delete did not see, even once a later write saw the delete', () => {
      const { make, clock } = setup()
      const [alice, bob, carol] = ['alice', 'bob', 'carol'].map(make) as [Replica, Replica, Replica]
      put(alice, 'k', 'a')
      clock.advance(1)
      put(bob, 'k', null) // bob never saw alice's value: it had no row
      exchange(bob, carol)
      clock.advance(1)
      put(carol, 'k', 'c') // carol saw bob's delete, the newest version: alice's value is older than it
      for (const [x, y] of [[alice, bob], [bob, carol], [alice, carol]] as const) exchange(x, y)
      for (const r of [alice, bob, carol]) assert.deepEqual(report(r), ['null@bob', 'a@alice conflict'], r.nodeId)
      assert.equal(text(alice.get('k')?.value), 'c')
    })

    it('a member\'s seen labels only the pairs its own writes win: another member\'s conflict stays one, and no version goes', () => {
      const keys = new Keys()
      const clock = new Clock()
      const make = replicaFactory(keys, clock, open)
      const [alice, bob, carol] = ['alice', 'bob', 'carol'].map(id => make(id)) as [Replica, Replica, Replica]
      const a = put(alice, 'k', 'a')
      clock.advance(5)
      put(bob, 'k', 'b') // bob never saw alice's value: a conflict
      for (const [x, y] of [[alice, bob], [bob, carol], [alice, carol]] as const) exchange(x, y)
      const honest = report(alice)
      assert.deepEqual(honest, ['a@alice conflict'])
      // mallory's writes claim to have seen alice's version, then everything there will ever be
      const lies: Op[] = [
        { ...op('k', 'm1', { origin: 'mallory', seq: 1, wall: clock.ms + 10 }), seen: { wall: a.wall, logical: a.logical, origin: a.origin } },
        { ...op('k', 'm2', { origin: 'mallory', seq: 2, wall: clock.ms + 20 }), seen: { wall: Number.MAX_SAFE_INTEGER, logical: 0, origin: 'zzz' } }
      ]
      proveOps(lies, keys.signer('mallory'))
      alice.receive(lies.slice(0, 1))
      alice.receive(lies.slice(1))
      bob.receive(lies)
      exchange(alice, carol)
      for (const r of [alice, bob, carol]) {
        const got = report(r)
        assert.equal(text(r.get('k')?.value), 'm2', r.nodeId)
        assert.ok(got.includes('a@alice conflict'), `${r.nodeId}: alice's loss to bob is still a conflict: ${got.join(', ')}`)
        for (const version of ['a@alice', 'b@bob', 'm1@mallory']) assert.ok(got.some(line => line.startsWith(version)), `${r.nodeId} keeps ${version}: ${got.join(', ')}`)
        assert.deepEqual(got, report(alice), `${r.nodeId} labels every version as alice does`)
      }
    })

    it('keeps the newest versions within the bound, the current one included', () => {
      const { make, clock } = setup({ historyVersions: 4, historyBytes: 9 })
      const alice = make('alice')
      for (let i = 0; i < 8; i++) {
        clock.advance(1)
        put(alice, 'k', `v${i}`)
      }
      assert.deepEqual(report(alice), ['v6@alice', 'v5@alice', 'v4@alice'])
      clock.advance(1)
      put(alice, 'k', 'x'.repeat(8))
      clock.advance(1)
      put(alice, 'k', 'last')
      assert.deepEqual(report(alice), ['xxxxxxxx@alice'], 'the byte budget keeps only the newest past values that fit')
    })

    it('reports the same history and conflicts on every replica whatever order the ops arrive in', () => {
      fc.assert(fc.property(
        fc.array(fc.record({ node: fc.integer({ min: 0, max: 2 }), del: fc.boolean(), sync: fc.option(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }))) }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })), { minLength: 0, maxLength: 6 }),
        fc.constantFrom(2, 4, 100),
        (steps, order, versions) => {
          const { make, clock } = setup({ historyVersions: versions, historyBytes: versions === 4 ? 6 : 1024 })
          const nodes = ['n0', 'n1', 'n2'].map(make)
          steps.forEach((step, i) => {
            clock.advance(1)
            put(nodes[step.node] as Replica, 'k', step.del ? null : `w${i}`)
            if (step.sync != null && step.sync[0] !== step.sync[1]) exchange(nodes[step.sync[0]] as Replica, nodes[step.sync[1]] as Replica)
          })
          for (const [a, b] of order) if (a !== b) exchange(nodes[a] as Replica, nodes[b] as Replica)
          for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) if (i !== j) exchange(nodes[i] as Replica, nodes[j] as Replica)
          const [first, ...rest] = nodes.map(report)
          for (const other of rest) assert.deepEqual(other, first)
          if (versions === 100) assert.equal(first?.length, steps.length - 1, 'every version but the current one is in history')
          else assert.ok((first?.length ?? 0) <= versions - 1)
        }
      ), { numRuns: kind === 'memory' ? 300 : 80 })
    })

    // a batch of 16 ops or more reads its keys' rows at once and skips the history queries for keys with no past
    // versions yet: the history and conflicts must be those that applying the same ops one at a time makes
    it('takes a key with past versions but no row (its delete collected) for one with history, not for a new one, in a batch', () => {
      const { make, clock } = setup()
      const writer = make('writer')
      // a version of `gone` the writer never saw, kept here as past with no row (as a collected delete leaves it)
      const unseen = op('gone', 'old', { origin: 'someone', seq: 1, wall: 1 })
      const replicas = ['batched', 'single'].map(id => {
        const replica = make(id)
        replica.state.store.transaction(() => { replica.state.store.past.keep(unseen, opDigest(unseen)) })
        assert.equal(replica.get('gone'), undefined, 'no row')
        return replica
      })
      clock.advance(10)
      // 16 ops in one go (a batch: the keys' rows are read at once), 15 of them new keys
      const ops = writer.write([...Array.from({ length: 15 }, (_, i) => ({ key: `new${i}`, value: bytes('n') })), { key: 'gone', value: bytes('back') }])
      writer.markDurable((ops.at(-1) as Op).seq)
      const [batched, single] = replicas as [Replica, Replica]
      batched.receive(ops, { via: 'gossip' })
      for (const one of ops) single.receive([one], { via: 'gossip' })
      const gone = (r: Replica): string[] => r.history('gone').map(p => `${text(p.op.value)}@${p.op.origin}${p.conflict !== undefined ? ' conflict' : ''}`)
      assert.deepEqual(gone(single), ['old@someone conflict'], 'the write had not seen the kept version: a conflict')
      assert.deepEqual(gone(batched), gone(single))
      assert.equal(batched.status().conflicts, single.status().conflicts)
      for (let i = 0; i < 15; i++) assert.deepEqual(batched.history(`new${i}`), [])
    })

    it('keeps the same history and conflicts whether a peer\'s ops arrive in one batch or one at a time', () => {
      const pullPages = (puller: Replica, server: Replica, pageOps: number): void => {
        const session = new PullSession(puller, { group: 'g', name: puller.nodeId, peer: server.nodeId })
        const hello = wire(session.hello())
        if (hello.kind !== 'control' || hello.message.t !== 'hello') throw new Error('bad hello')
        for (const frame of serve(server, hello.message, { group: 'g', name: server.nodeId, pageOps, frameBytes: 1 << 20 })) {
          if (session.done) break
          session.take(wire(frame))
        }
      }
      const keys = Array.from({ length: 24 }, (_, i) => `k${i}`)
      const all = (r: Replica): string[] => keys.flatMap(key => r.history(key).map(p => `${key}=${text(p.op.value)}@${p.op.origin}${p.conflict !== undefined ? ' conflict' : ''}`))
      fc.assert(fc.property(
        fc.array(fc.record({ node: fc.integer({ min: 0, max: 2 }), keys: fc.subarray(keys, { minLength: 1 }), del: fc.boolean(), sync: fc.option(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }))) }), { minLength: 1, maxLength: 6 }),
        fc.constantFrom(1, 2, 3, 100),
        fc.constantFrom(5, 1024),
        (steps, versions, historyBytes) => {
          const { make, clock } = setup({ historyVersions: versions, historyBytes })
          const nodes = ['n0', 'n1', 'n2'].map(make)
          steps.forEach((step, i) => {
            clock.advance(1)
            const writer = nodes[step.node] as Replica
            const written = writer.write(step.keys.map(key => ({ key, value: step.del && key < 'k2' ? null : bytes(`w${i}`.repeat(step.node + 1)) })))
            writer.markDurable((written.at(-1) as Op).seq)
            if (step.sync != null && step.sync[0] !== step.sync[1]) pullPages(nodes[step.sync[0]] as Replica, nodes[step.sync[1]] as Replica, 1000)
          })
          const batched = make('batched')
          const single = make('single')
          for (const server of nodes) {
            pullPages(batched, server, 1000)
            pullPages(single, server, 1)
          }
          assert.deepEqual(all(batched), all(single))
          assert.equal(batched.status().conflicts, single.status().conflicts)
        }
      ), { numRuns: kind === 'memory' ? 150 : 40 })
    })
  })
}

describe('schema version 7 (seen, key_history)', () => {
  it('brings a version 7 file up: its ops keep their bytes (no seen), history starts empty, and new writes record it', () => {
    const path = join(dir, 'v7.db')
    const old = op('k', 'old', { origin: 'alice' })
    olderFile(path, [old], UNDO_VERSION_8, 7)
    const migrated = SqliteStore.open(path)
    const row = migrated.row('k') as Op
    assert.equal(row.seen, undefined)
    assert.deepEqual(opDigest(row), opDigest(old), 'no seen, so the same digest and signature')
    assert.deepEqual(migrated.past.list('k', 10), [])
    const next: Op = { ...op('k', 'new', { origin: 'bob', wall: 5 }), seen: { wall: 1, logical: 0, origin: 'alice' } }
    migrated.transaction(() => {
      migrated.past.keepRow('k')
      migrated.put(next, opDigest(next))
    })
    assert.deepEqual(migrated.row('k')?.seen, next.seen)
    assert.deepEqual(migrated.past.list('k', 10).map(p => text(p.op.value)), ['old'])
    migrated.close()
    const check = new Database(path, { readonly: true })
    assert.equal(Number(check.prepare("SELECT value FROM meta WHERE name = 'schema_version'").pluck().get()), SCHEMA_VERSION)
    check.close()
  })
})

describe('what a write had seen (PastStore.newest)', () => {
  it('is the key\'s row, or with none its newest past version, alike for a few keys, many keys and the in-memory store', () => {
    const openSqlite = storeFactory('sqlite', dir)
    const openMemory = storeFactory('memory', dir)
    const keys = ['a', 'b', 'c', 'd', 'e', 'f']
    // each key: maybe a row, and past versions at (wall, origin) pairs
    const keyState = fc.record({ row: fc.option(fc.nat(20), { nil: undefined }), past: fc.array(fc.tuple(fc.nat(20), fc.constantFrom('x', 'y')), { maxLength: 4 }) })
    fc.assert(fc.property(fc.array(keyState, { minLength: keys.length, maxLength: keys.length }), fc.subarray(keys, { minLength: 1, maxLength: 3 }), (states, asked) => {
      const stores = [openSqlite(), openMemory()]
      let seq = 0
      for (const store of stores) {
        store.transaction(() => {
          states.forEach(({ row, past }, i) => {
            const key = keys[i] as string
            for (const [wall, origin] of past) { const kept = op(key, 'old', { wall, origin, seq: ++seq }); store.past.keep(kept, opDigest(kept)) }
            if (row !== undefined) { const current = op(key, 'now', { wall: row, origin: 'z', seq: ++seq }); store.put(current, opDigest(current)) }
          })
        })
      }
      const [sqlite, memory] = stores as [SqliteStore, Store]
      // a few keys are looked up one by one, more in one query: both must say the same, and what the in-memory store says
      const few = sqlite.transaction(() => sqlite.past.newest(asked))
      const many = sqlite.transaction(() => sqlite.past.newest(keys))
      assert.deepEqual([...few], asked.flatMap(key => many.has(key) ? [[key, many.get(key)]] : []))
      assert.deepEqual(new Map([...many].sort()), new Map([...memory.past.newest(keys)].sort()))
      // the newer of the row and the newest past version: a row can be older (an old op taken after a collected delete)
      const expected = states.flatMap(({ row, past }, i) => {
        const versions = [...(row !== undefined ? [{ wall: row, logical: 0, origin: 'z' }] : []), ...past.map(([wall, origin]) => ({ wall, logical: 0, origin }))]
        const newest = versions.sort((x, y) => y.wall - x.wall || (y.origin > x.origin ? 1 : y.origin < x.origin ? -1 : 0))[0]
        return newest === undefined ? [] : [[keys[i] as string, newest] as const]
      })
      assert.deepEqual(new Map([...many].sort()), new Map(expected))
      for (const store of stores) store.close()
    }), { numRuns: 100 })
  })
})
