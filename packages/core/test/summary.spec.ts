/**
 * The hello's short form (sync/hello.ts): a pull from a server that held the
 * same last time sends a digest of its vector, not the vector; the answer
 * decides whether to pull again in full. Nothing a server says with it
 * becomes this node's state.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { IN_FLIGHT_OPS, PullSession, claimOf, encodeFrame, inFlight, serve, summarize, totalOf, type Frame, type Hello, type PullResult, type Replica } from '../src/index.js'
import { Clock, Keys, put, replicaFactory, rowsOf, storeFactory, tempDir, wire } from './helpers.js'

const dir = tempDir()
const keys = new Keys()

interface Pulled { result: PullResult, hello: Hello, helloBytes: number, frames: Frame[] }

/** A pull from a server that speaks the short form, as murmurd's 3.1.0 streams do. */
function pullShort (puller: Replica, server: Replica, answer?: (hello: Hello) => Frame[]): Pulled {
  const session = new PullSession(puller, { group: 'g', name: puller.nodeId, peer: server.nodeId, summary: true })
  const first = wire(session.hello())
  assert.ok(first.kind === 'control' && first.message.t === 'hello')
  const frames = answer?.(first.message) ?? [...serve(server, first.message, { group: 'g', name: server.nodeId })]
  for (const frame of frames) if (!session.done) session.take(wire(frame))
  assert.ok(session.done, 'the server said done')
  return { result: session.result, hello: first.message, helloBytes: encodeFrame(first).length, frames }
}

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`the hello's short form (${kind})`, () => {
    const clock = new Clock()
    const replica = replicaFactory(keys, clock, storeFactory(kind, dir))

    /** alice and bob holding the same ops of `origins` writers. */
    const inStep = (origins = 40): [Replica, Replica] => {
      const [alice, bob] = ['alice', 'bob'].map(id => replica(id)) as [Replica, Replica]
      for (let i = 0; i < origins; i++) {
        const writer = replica(`writer${String(i).padStart(3, '0')}`)
        put(writer, `k${i}`, `v${i}`)
        for (const node of [alice, bob]) assert.equal(node.receive([...writer.store.opsOf(writer.nodeId, 0, 10)], { via: 'sync' }).applied, 1)
      }
      return [alice, bob]
    }

    it('sends a digest, not the vector, to a server that held the same last time; the server answers with its digest and done', () => {
      const [alice, bob] = inStep()
      const whole = pullShort(alice, bob)
      assert.equal(whole.hello.summary, undefined, 'the first pull from a server is whole')
      assert.equal(Object.keys(whole.hello.vector).length, 40)
      const short = pullShort(alice, bob)
      assert.equal(short.hello.summary, summarize(alice.vector()))
      assert.deepEqual(short.hello.vector, {})
      assert.ok(short.helloBytes * 4 < whole.helloBytes, `${short.helloBytes} bytes against ${whole.helloBytes}`)
      assert.deepEqual(short.frames.map(f => f.kind === 'control' ? f.message.t : f.kind), ['hello', 'done'])
      const answer = short.frames[0]
      assert.ok(answer?.kind === 'control' && answer.message.t === 'hello')
      assert.deepEqual([answer.message.summary, answer.message.vector], [summarize(bob.vector()), {}])
      assert.deepEqual(short.result.peerVector, alice.vector(), 'the same digest: the server holds what alice holds')
      assert.equal(short.result.again, false)
    })

    it('pulls again, in full, when the server\'s digest differs and its vector names ops it lacks', () => {
      const [alice, bob] = inStep(5)
      pullShort(alice, bob)
      put(bob, 'new', 'from bob')
      const short = pullShort(alice, bob)
      assert.deepEqual(short.hello.vector, {}, 'a short hello')
      assert.equal(short.result.applied, 0, 'the answer to a short hello carries no ops')
      assert.equal(short.result.again, true)
      assert.deepEqual(short.result.peerVector, bob.vector())
      const full = pullShort(alice, bob)
      assert.equal(full.hello.summary, undefined, 'after a differing digest, the hello is whole')
      assert.equal(Object.keys(full.hello.vector).length, 5)
      assert.equal(full.result.applied, 1)
      assert.deepEqual(rowsOf(alice.store), rowsOf(bob.store))
      assert.equal(pullShort(alice, bob).hello.summary, summarize(alice.vector()), 'in step again')
    })

    it('sends the whole hello after a new connection to the server (`reconnected`), and the short form again after it', () => {
      const [alice, bob] = inStep(5)
      pullShort(alice, bob)
      alice.reconnected(bob.nodeId)
      assert.equal(pullShort(alice, bob).hello.summary, undefined)
      assert.equal(pullShort(alice, bob).hello.summary, summarize(alice.vector()))
    })

    it('tells ops gossip may still be carrying from a stretch it will not bring (`inFlight`)', () => {
      const [alice, bob] = inStep(5)
      pullShort(alice, bob)
      for (let i = 0; i < IN_FLIGHT_OPS; i++) put(bob, `w${i}`, 'x')
      const few = pullShort(alice, bob)
      assert.equal(few.result.again, true)
      assert.equal(inFlight(alice.vector(), few.result.peerVector ?? {}), true, `${IN_FLIGHT_OPS} ops lacked`)
      put(bob, 'one more', 'x')
      assert.equal(inFlight(alice.vector(), bob.vector()), false, `${IN_FLIGHT_OPS + 1} ops lacked`)
      // summed across origins; what alice holds beyond the vector does not count
      assert.equal(inFlight({ a: 10, b: 5, c: 9 }, { a: 40, b: 39, c: 0 }), true)
      assert.equal(inFlight({ a: 10, b: 5, c: 9 }, { a: 40, b: 40 }), false)
    })

    it('does not pull again when the digest differs only because this node holds more; its total tells the server', () => {
      const [alice, bob] = inStep(5)
      pullShort(alice, bob)
      assert.equal(claimOf((pullShort(alice, bob)).hello)(bob.vector()), false, 'in step: no claim')
      put(alice, 'mine', 'alice only')
      const short = pullShort(alice, bob)
      assert.deepEqual(short.hello.vector, {})
      assert.equal(short.hello.total, totalOf(alice.vector()))
      assert.equal(claimOf(short.hello)(bob.vector()), true, 'the server learns that alice holds more')
      assert.equal(short.result.again, false)
      assert.equal(pullShort(alice, bob).hello.summary, undefined, 'not in step: the next hello is whole')
    })

    it('sends the whole hello to a server that does not speak the short form, and when it holds ops waiting', () => {
      const [alice, bob] = inStep(5)
      pullShort(alice, bob)
      const old = new PullSession(alice, { group: 'g', name: 'alice', peer: 'bob' })
      const hello = old.hello()
      assert.ok(hello.kind === 'control' && hello.message.t === 'hello')
      assert.equal(hello.message.summary, undefined)
      // an op of bob's past a gap: alice holds it waiting, and must say so (skip)
      put(bob, 'a', '1')
      alice.receive([put(bob, 'b', '2')], { via: 'gossip' })
      const waiting = pullShort(alice, bob)
      assert.equal(waiting.hello.summary, undefined)
      assert.ok(waiting.hello.skip !== undefined)
    })

    it('takes nothing from a server\'s answer but what it decides to ask: a lying digest only keeps it from asking, a lying vector only makes it ask', () => {
      const [alice, bob] = inStep(5)
      pullShort(alice, bob)
      const before = rowsOf(alice.store)
      const vector = alice.vector()
      const hello = (message: Partial<Hello>): Frame[] => [{ kind: 'control', message: { t: 'hello', group: 'g', name: 'bob', now: 0, vector: {}, ...message } }, { kind: 'control', message: { t: 'done' } }]
      // claims the same while bob holds more
      put(bob, 'hidden', 'x')
      const lie = pullShort(alice, bob, asked => hello({ summary: asked.summary }))
      assert.equal(lie.result.again, false)
      // claims every origin up to 2^53 − 1
      const huge = pullShort(alice, bob, () => hello({ summary: 'not the same', vector: Object.fromEntries(Object.keys(vector).map(o => [o, Number.MAX_SAFE_INTEGER])) }))
      assert.equal(huge.result.again, true)
      assert.deepEqual([rowsOf(alice.store), alice.vector()], [before, vector], 'nothing of either became alice\'s state')
      const full = pullShort(alice, bob)
      assert.equal(full.hello.summary, undefined)
      assert.equal(full.result.applied, 1, 'the whole pull brings what the lie hid')
    })
  })
}
