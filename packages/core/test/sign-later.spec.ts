/**
 * Own ops signed as they leave (`signLater`): several commits share one
 * batch, nothing leaves before its proof is stored and marked durable, a
 * restart signs what was never sent, and replicas end with the same proof
 * on every row.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { MemoryStore, PullSession, SIGN_AT_COMMIT_OPS, SqliteStore, proofSize, serve, type Op, type Replica, type Store } from '../src/index.js'
import { Clock, Keys, bytes, pull, replicaFactory, rowsOf, storeFactory, tempDir } from './helpers.js'

const dir = tempDir()
const keys = new Keys()

/** The signature of every row, by key: what must be identical on every replica. */
function sigsOf (store: Store): Record<string, string | null> {
  return Object.fromEntries(store.rows({ tombstones: true, reserved: true }).map(op => [op.key, op.proof == null ? null : Buffer.from(op.proof.sig).toString('hex')]))
}

const sigOf = (op: Op): string | undefined => op.proof === undefined ? undefined : Buffer.from(op.proof.sig).toString('hex')

/** One commit per change, as single puts come. */
function writeEach (replica: Replica, changes: Array<[string, string | null]>): Op[] {
  return changes.flatMap(([key, value]) => replica.write([{ key, value: value === null ? null : bytes(value) }]))
}

/** Every op `server` would serve a puller that holds nothing. */
function served (server: Replica): Op[] {
  const session = new PullSession(server, { group: 'g', name: 'x' })
  const hello = session.hello()
  assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
  return [...serve(server, { ...hello.message, vector: {} }, { group: 'g', name: server.nodeId })].flatMap(f => f.kind === 'control' ? [] : f.ops)
}

/** The hello `server` answers a puller that holds nothing with. */
function servedHello (server: Replica): { vector: Record<string, number> } {
  const session = new PullSession(server, { group: 'g', name: 'x' })
  const hello = session.hello()
  assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
  const first = serve(server, { ...hello.message, vector: {} }, { group: 'g', name: server.nodeId }).next().value
  assert.ok(first !== undefined && first.kind === 'control' && first.message.t === 'hello')
  return { vector: first.message.vector }
}

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`signing later (${kind})`, () => {
    const clock = new Clock()
    const replica = replicaFactory(keys, clock, storeFactory(kind, dir), { signLater: true })

    it('signs the ops of several commits in one batch, and replicas keep that proof on every row', () => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id)) as [Replica, Replica]
      const ops = writeEach(alice, [['a', '1'], ['b', '2'], ['a', '3'], ['c', null]])
      assert.ok(ops.every(op => op.proof === undefined), 'committed unsigned')
      const signed = alice.prove(ops)
      assert.deepEqual(signed.map(op => op.seq), [1, 2, 3, 4])
      const proof = ops[0]?.proof
      assert.ok(proof !== undefined && ops.every(op => op.proof === proof), 'one proof for the four commits')
      assert.equal(proofSize(proof), 4)
      alice.markDurable(4)
      bob.receive(ops, { via: 'gossip' })
      assert.deepEqual(bob.vector(), { alice: 4 })
      assert.deepEqual(sigsOf(bob.store), sigsOf(alice.store))
      assert.ok(Object.values(sigsOf(alice.store)).every(sig => sig !== null), 'every row of alice carries the proof')
      // a third node pulls from bob: the superseded op (a=1) travels from history with the same proof
      const carol = replica('carol')
      pull(carol, bob)
      assert.deepEqual(carol.vector(), { alice: 4 })
      assert.deepEqual(sigsOf(carol.store), sigsOf(alice.store))
      assert.deepEqual(rowsOf(carol.store), rowsOf(alice.store))
      const fromHistory = alice.store.opsOf('alice', 0, 10).find(op => op.seq === 1)
      assert.ok(fromHistory?.superseded === true && fromHistory.proof !== undefined && Buffer.compare(fromHistory.proof.sig, proof.sig) === 0, 'the superseded op holds its proof in history')
    })

    it('serves no own op before its proof is stored and marked durable', () => {
      const alice = replica('alice')
      const ops = writeEach(alice, [['x', '1'], ['y', '2']])
      alice.markDurable(2)
      assert.equal(alice.durableSeq, 0, 'on disk, but unsigned: not durable for leaving')
      assert.deepEqual(served(alice), [])
      assert.deepEqual(servedHello(alice).vector, {}, 'nor claimed in its hello')
      alice.prove(ops)
      assert.deepEqual(served(alice), [], 'signed, but the proof is not on disk yet')
      alice.markDurable(2)
      const sent = served(alice)
      assert.deepEqual(sent.map(op => op.seq), [1, 2])
      assert.deepEqual(servedHello(alice).vector, { alice: 2 })
      writeEach(alice, [['z', '3']])
      assert.deepEqual(servedHello(alice).vector, { alice: 2 }, 'a third op, committed but not signed, is not claimed')
      assert.ok(sent.every(op => op.proof !== undefined))
    })

    it('signs ops below the caller\'s that never went out with them, in one batch', () => {
      const alice = replica('alice')
      const [lost] = writeEach(alice, [['k', 'lost']]) // its fsync failed: never handed to prove
      const later = writeEach(alice, [['k', 'later'], ['m', 'm']])
      const signed = alice.prove(later)
      assert.deepEqual(signed.map(op => op.seq), [1, 2, 3])
      assert.equal(lost?.proof, undefined, 'the caller\'s object of the lost op is not the one read back')
      assert.ok(signed.every(op => op.proof?.first === 1 && proofSize(op.proof) === 3))
      alice.markDurable(3)
      const bob = replica('bob')
      pull(bob, alice)
      assert.deepEqual(bob.vector(), { alice: 3 })
      assert.deepEqual(sigsOf(bob.store), sigsOf(alice.store))
    })

    it('signs ops handed over out of order, gaps read back, and gives a late one the proof stored for it', () => {
      const alice = replica('alice')
      const ops = writeEach(alice, [['a', '1'], ['b', '2'], ['a', null], ['c', '4'], ['d', '5']])
      const [o1, o2, o3, o4, o5] = ops as [Op, Op, Op, Op, Op]
      // commits acknowledged out of order: 4 and 2 first, 3 still on its way (1 read back from the store)
      assert.deepEqual(alice.prove([o4, o2]).map(op => op.seq), [1, 2, 3, 4])
      assert.equal(sigOf(o3), undefined)
      assert.deepEqual(alice.prove([o3, o5]).map(op => op.seq), [5], 'seq 3 was signed with the others')
      assert.ok(sigOf(o3) !== undefined && sigOf(o3) === sigOf(o4), 'the late op carries the proof stored for it')
      assert.equal(sigOf(o1), undefined, 'the caller never handed seq 1 over: its own object stays as it was')
      alice.markDurable(5)
      const bob = replica('bob')
      bob.receive([o3, o5, o2, o4], { via: 'gossip' })
      pull(bob, alice)
      assert.deepEqual(bob.vector(), { alice: 5 })
      assert.deepEqual(sigsOf(bob.store), sigsOf(alice.store))
    })

    it('signs a commit of several ops at once (they share a signature already), unless an earlier op still waits to be signed', () => {
      const alice = replica('alice')
      const many = (tag: string): Array<{ key: string, value: Uint8Array }> => Array.from({ length: SIGN_AT_COMMIT_OPS }, (_, i) => ({ key: `${tag}${i}`, value: bytes(tag) }))
      const big = alice.write(many('a'))
      assert.ok(big.every(op => op.proof !== undefined && op.proof === big[0]?.proof), 'signed in its commit, one batch')
      assert.deepEqual(alice.prove(big), [], 'nothing left to sign')
      const small = alice.write([{ key: 's', value: bytes('1') }])
      assert.equal(sigOf(small[0] as Op), undefined, 'a single put waits for its message')
      const after = alice.write(many('b'))
      assert.ok(after.every(op => op.proof === undefined), 'an earlier op waits: this commit waits with it, so signatures stay in seq order')
      assert.deepEqual(alice.prove([...small, ...after]).map(op => op.seq), Array.from({ length: SIGN_AT_COMMIT_OPS + 1 }, (_, i) => SIGN_AT_COMMIT_OPS + 1 + i))
      alice.markDurable(2 * SIGN_AT_COMMIT_OPS + 1)
      const bob = replica('bob')
      pull(bob, alice)
      assert.deepEqual(bob.vector(), { alice: 2 * SIGN_AT_COMMIT_OPS + 1 })
      assert.deepEqual(sigsOf(bob.store), sigsOf(alice.store))
    })

    it('leaves ops unsigned when storing their proofs fails, and signs them on the next call', () => {
      const store = kind === 'memory' ? new MemoryStore() : SqliteStore.open(join(dir, `fail-${Date.now()}.db`), { durability: 'normal' })
      let failures = 1
      const prove = store.prove.bind(store)
      store.prove = ops => {
        if (failures-- > 0) throw new Error('database or disk is full')
        prove(ops)
      }
      const alice = replica('alice', { store })
      const first = writeEach(alice, [['a', '1']])
      assert.throws(() => alice.prove(first), /disk is full/)
      assert.equal(first[0]?.proof, undefined, 'no proof left on an op whose proof was not stored')
      alice.markDurable(1)
      assert.deepEqual(served(alice), [])
      const second = writeEach(alice, [['b', '2']])
      assert.deepEqual(alice.prove(second).map(op => op.seq), [1, 2])
      alice.markDurable(2)
      assert.deepEqual(served(alice).map(op => [op.seq, op.proof !== undefined]), [[1, true], [2, true]])
    })
  })
}

describe('signing later across a restart', () => {
  it('signs at open what a crash left unsigned (it was never sent), and serves it only then', () => {
    const clock = new Clock()
    const path = join(dir, 'restart.db')
    const open = (): Replica => replicaFactory(keys, clock, () => SqliteStore.open(path, { durability: 'normal' }), { signLater: true })('alice')
    let alice = open()
    const sent = writeEach(alice, [['a', '1'], ['b', '2']])
    alice.prove(sent)
    alice.markDurable(2)
    writeEach(alice, [['a', '3'], ['c', '4']]) // committed, acknowledged, never signed: the node stops
    alice.store.close()

    alice = open()
    assert.equal(alice.durableSeq, 2, 'what was signed and on disk may leave; the rest waits for its proof')
    assert.deepEqual(served(alice).map(op => op.seq), [1, 2])
    const signed = alice.prove()
    assert.deepEqual(signed.map(op => op.seq).sort(), [3, 4])
    alice.markDurable(4)
    const bob = replicaFactory(keys, clock, storeFactory('sqlite', tempDir()))('bob')
    pull(bob, alice)
    assert.deepEqual(bob.vector(), { alice: 4 })
    assert.deepEqual(sigsOf(bob.store), sigsOf(alice.store))
    alice.store.close()
    // and a second restart finds nothing left to sign
    alice = open()
    assert.equal(alice.durableSeq, 4)
    assert.deepEqual(alice.prove(), [])
    alice.store.close()
  })
})
