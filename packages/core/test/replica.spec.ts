import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { MemoryStore, Replica, SqliteStore, type Op, type Stamp } from '../src/index.js'
import { bytes, op, tempDir } from './helpers.js'

const dir = tempDir()

function versionOf ({ wall, logical, origin, seq }: Op): object {
  return { wall, logical, origin, seq }
}

/** The one op of a single-change write. */
function only (ops: Op[]): Op {
  assert.equal(ops.length, 1)
  return ops[0] as Op
}

/** A memory store that records its `apply` calls, and fails one on request, as SQLite would on a full disk. */
class RecordingStore extends MemoryStore {
  readonly calls: Op[][] = []
  failNext = false

  override apply (ops: Op[]): Op[] {
    this.calls.push(ops)
    if (this.failNext) {
      this.failNext = false
      throw new Error('disk full')
    }
    return super.apply(ops)
  }
}

describe('Replica', () => {
  it('stamps a write with the clock and the next seq, in one apply', () => {
    const store = new RecordingStore()
    const replica = new Replica({ store, nodeId: 'me', now: () => 500 })
    const ops = replica.write([{ key: 'a', value: bytes('1') }, { key: 'b', value: null }])
    assert.deepEqual(ops.map(versionOf), [{ wall: 500, logical: 0, origin: 'me', seq: 1 }, { wall: 500, logical: 1, origin: 'me', seq: 2 }])
    assert.deepEqual(store.calls, [ops])
    assert.equal(replica.get('b')?.value, null)
    assert.deepEqual(replica.vector(), { me: 2 })
    assert.deepEqual(replica.clock, { wall: 500, logical: 1 })
  })

  it('continues its seq and clock after a restart, even with the physical clock behind', () => {
    const path = join(dir, 'restart.db')
    const first = new Replica({ store: SqliteStore.open(path), nodeId: 'me', now: () => 9000 })
    first.write([{ key: 'a', value: bytes('1') }])
    first.store.close()
    const second = new Replica({ store: SqliteStore.open(path), nodeId: 'me', now: () => 10 })
    assert.deepEqual(versionOf(only(second.write([{ key: 'a', value: bytes('2') }]))), { wall: 9000, logical: 1, origin: 'me', seq: 2 })
    assert.equal(Buffer.from(second.get('a')?.value ?? []).toString(), '2')
    second.store.close()
  })

  it('merges remote ops, returns the winners, and moves its clock past them', () => {
    const replica = new Replica({ store: new MemoryStore(), nodeId: 'me', now: () => 100 })
    replica.write([{ key: 'k', value: bytes('mine') }])
    const remote = [op('k', 'theirs', { wall: 5000, logical: 3, origin: 'peer' }), op('k', 'old', { wall: 1, origin: 'peer', seq: 2 })]
    assert.deepEqual(replica.merge(remote), [remote[0]])
    assert.deepEqual(replica.clock, { wall: 5000, logical: 4 })
    assert.deepEqual(versionOf(only(replica.write([{ key: 'k', value: bytes('again') }]))), { wall: 5000, logical: 5, origin: 'me', seq: 2 })
    assert.deepEqual(replica.merge([]), [])
  })

  it('never reuses a seq its peers have seen, after losing its database', () => {
    const byVector = new Replica({ store: new MemoryStore(), nodeId: 'me' })
    byVector.mergeVector({ me: 41, other: 3 })
    assert.equal(only(byVector.write([{ key: 'k', value: null }])).seq, 42)

    const byOps = new Replica({ store: new MemoryStore(), nodeId: 'me' })
    byOps.merge([op('k', 'v', { origin: 'me', seq: 7 })])
    assert.deepEqual(byOps.vector(), {})
    assert.equal(only(byOps.write([{ key: 'k', value: null }])).seq, 8)
  })

  it('leaves no gap in its seqs when a write fails', () => {
    const store = new RecordingStore()
    const replica = new Replica({ store, nodeId: 'me' })
    store.failNext = true
    assert.throws(() => replica.write([{ key: 'k', value: null }]), /disk full/)
    assert.equal(only(replica.write([{ key: 'k', value: null }])).seq, 1)
  })

  it('passes reads through to the store', () => {
    const replica = new Replica({ store: new MemoryStore(), nodeId: 'me', now: () => 1 })
    replica.write([{ key: 'a', value: bytes('1') }, { key: 'b', value: bytes('2') }, { key: 'c', value: null }])
    assert.deepEqual(replica.list({ after: 'a' }).map(o => o.key), ['b'])
    assert.deepEqual(replica.counts(), { keys: 2, tombstones: 1 })
    assert.deepEqual(replica.missing({ me: 2 }, { limit: 10 }).ops.map(o => o.key), ['c'])
    assert.equal(replica.nodeId, 'me')
    const stamp: Stamp = replica.clock
    assert.deepEqual(stamp, { wall: 1, logical: 2 })
  })
})
