/**
 * A hostile member against real daemons (test/attacker.ts: a libp2p node in
 * this process with a key of its own). It forges and alters ops, claims
 * vectors it does not have, replays genuine ops after their delete was
 * collected, signs two ops with one seq for different peers, stamps ops far
 * in the future, floods the topic and sets the keepalive refresh bit over a
 * new value. None of it may change what an honest replica holds, stop it
 * writing, keep honest replicas apart, or hide a change from a watcher.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { attestationKey, encodeAttestation, type Frame, type Op } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, logged, waitFor, type TestNode } from './harness.js'
import { startWatch } from './watch-client.js'

const FAST = ['--anti-entropy-interval', '300']
const FAST_GC = [...FAST, '--tombstone-grace', '1000']
// attestations every second, not every 10 s (a tenth of the default grace): the nodes find they disagree by them
const FAST_ATTEST = [...FAST, '--tombstone-grace', '10000']
const MAX = Number.MAX_SAFE_INTEGER

// refused ops and gossip messages rejected whole (a message of forged ops is the latter)
const rejected = async (node: TestNode): Promise<number> => { const { counters } = await node.status(); return counters.rejected + counters.rejectedMessages }
const value = async (node: TestNode, key: string): Promise<string | number> => {
  const result = await node.ctl(['get', key])
  return result.code === 0 ? result.stdout.trim() : result.code ?? -1
}
const done: Frame = { kind: 'control', message: { t: 'done' } }

describe('a hostile member: forgeries, the far future and floods', () => {
  const cluster = new TestCluster()
  let alice: TestNode
  let bob: TestNode
  let attacker: Attacker
  let bobId: string

  before(async () => {
    alice = await cluster.start('alice', { args: FAST })
    bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST })
    bobId = (await bob.status()).id
    attacker = await Attacker.start()
    await attacker.dial(await alice.addr())
    await bob.put('config:real', 'genuine')
    await waitFor(() => attacker.captured.find(op => op.origin === bobId), 'the attacker to capture one of bob\'s ops from gossip')
  })
  after(async () => {
    await attacker?.stop()
    await cluster.close()
  })

  it('forged, unsigned and altered ops over gossip are rejected and change nothing', async () => {
    const before = await rejected(alice)
    const forged = attacker.sign([attacker.op('config:real', 'forged', { origin: bobId, seq: 100 }, false)])
    await attacker.publish(forged) // signed, but by the attacker's key, not bob's
    await attacker.publish([attacker.op('attacker:unsigned', 'x', {}, false)])
    const altered = attacker.op('attacker:altered', 'original')
    await attacker.publish([{ ...altered, value: Buffer.from('tampered') }])
    await waitFor(async () => await rejected(alice) >= before + 3, 'alice to count the rejected messages')
    // the log line reaches this process through a pipe, after the count: wait for it too
    await logged(alice, /rejected gossip message/, 'alice rejected the messages')
    for (const node of [alice, bob]) {
      assert.equal(await value(node, 'config:real'), 'genuine')
      assert.equal(await value(node, 'attacker:unsigned'), 4)
      assert.equal(await value(node, 'attacker:altered'), 4)
    }
  })

  it('over sync, forged and altered relays are refused and counted', async () => {
    const real = attacker.captured.find(op => op.origin === bobId) as Op
    attacker.answer = (_puller, hello) => [
      attacker.hello(hello),
      { kind: 'ops', ops: [{ ...real, value: Buffer.from('altered in transit') }] },
      { kind: 'ops', ops: attacker.sign([attacker.op('config:real', 'forged', { origin: bobId, seq: real.seq + 1 }, false)]) },
      done
    ]
    const before = await rejected(alice)
    await waitFor(async () => await rejected(alice) >= before + 2, 'alice to pull from the attacker and refuse what it relays', 15_000)
    await logged(alice, /relayed ops with bad signatures/, 'alice refused relayed forgeries')
    assert.equal(await value(alice, 'config:real'), 'genuine')
  })

  it('ops stamped far in the future wait or are refused, never applied', async () => {
    // the attacker's first op that alice could take: nothing of it is held there, so it is next in line
    const far = attacker.op('attacker:future', 'from 2 hours ahead', { seq: 1, wall: Date.now() + 2 * 3600_000 })
    const before = await rejected(alice)
    await attacker.publish([far])
    await waitFor(async () => await rejected(alice) > before, 'alice to refuse the far-future op')
    assert.equal(await value(alice, 'attacker:future'), 4)
  })

  it('a flood of invalid messages does not stop the honest nodes from converging', async () => {
    const started = Date.now()
    const flood = (async () => {
      for (let i = 0; i < 3000 && Date.now() - started < 15_000; i++) {
        await attacker.publish([attacker.op(`flood:${i}`, 'x', {}, false)]).catch(() => {})
        if (i % 50 === 0) await new Promise(resolve => setImmediate(resolve))
      }
    })()
    for (let i = 0; i < 30; i++) await bob.put(`during-flood:${i}`, String(i))
    await flood
    await waitFor(async () => await alice.value('during-flood:29') === '29', 'bob\'s writes to reach alice through the flood', 20_000)
    await waitFor(() => JSON.stringify(alice.userRows()) === JSON.stringify(bob.userRows()), 'identical replicas')
    assert.equal((alice.rows() as Array<{ key: string }>).filter(r => r.key.startsWith('flood:') || r.key.startsWith('attacker:')).length, 0)
    console.log(`# flood: ${Date.now() - started} ms to converge under a flood of invalid messages; alice rejected ${await rejected(alice)}`)
  })
})

describe('a hostile member claims vectors it does not have (hole 1)', () => {
  const cluster = new TestCluster()
  let alice: TestNode
  let bob: TestNode
  let attacker: Attacker
  after(async () => {
    await attacker?.stop()
    await cluster.close()
  })

  it('a vector of 2^53 − 1 for every origin, with a fake snapshot behind its own signed attestation, is never taken: nothing is skipped or dropped, and both nodes keep writing', async () => {
    alice = await cluster.start('alice', { args: FAST })
    bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST })
    const [aliceId, bobId] = [(await alice.status()).id, (await bob.status()).id]
    await alice.put('before', 'lie')
    await cluster.converged([alice, bob], 1)
    attacker = await Attacker.start()
    const lie = { [aliceId]: MAX, [bobId]: MAX, [attacker.id]: MAX }
    // the attacker's own attestation, validly signed: it holds alice's and bob's ops up to a million
    const claim = { seq: 1_000_000, wall: Date.now() - 1_000, logical: 0, acc: new Uint8Array(32) }
    const attestation = attacker.op(attestationKey(attacker.id), null, { value: encodeAttestation(new Map([[aliceId, claim], [bobId, claim]])) })
    attacker.answer = (_puller, hello) => [
      { kind: 'control', message: { t: 'hello', group: hello.group, name: 'mallory', now: Date.now(), vector: lie, snapshot: true, horizon: [MAX, 0], floors: Object.fromEntries(Object.keys(lie).map(o => [o, [1_000_000, claim.wall, 0, Buffer.alloc(32).toString('base64')]])) } },
      { kind: 'attest', ops: [attestation] },
      { kind: 'import', ops: attacker.captured.slice(0, 5) },
      done
    ]
    const vectors = [(await alice.status()).versionVector, (await bob.status()).versionVector]
    const rows = [alice.userRows(), bob.userRows()]
    await attacker.dial(await alice.addr())
    await attacker.dial(await bob.addr())
    await waitFor(() => attacker.pulls.length >= 4, 'alice and bob to pull from the attacker a few times')
    const after = [(await alice.status()).versionVector, (await bob.status()).versionVector]
    for (const [i, node] of [alice, bob].entries()) {
      for (const origin of [aliceId, bobId]) assert.ok((after[i]?.[origin] ?? 0) < (vectors[i]?.[origin] ?? 0) + 100, `${node.name}'s vector for ${origin} was not lifted: ${after[i]?.[origin]}`)
      assert.equal(after[i]?.[attacker.id], undefined, `${node.name} holds nothing of the attacker`)
      assert.deepEqual(node.userRows(), rows[i], `${node.name} dropped no row and wrote nothing again`)
    }
    // every later put on alice and bob still works and replicates, across a restart too
    await alice.put('after:alice', '1')
    await bob.put('after:bob', '2')
    await cluster.converged([alice, bob], 3)
    assert.equal(await alice.stop(), 0)
    // back on a new port: it dials bob itself
    await alice.start({ args: FAST, peers: [await bob.addr()] })
    await alice.put('after:restart', '3')
    await cluster.converged([alice, bob], 4)
  })
})

describe('a hostile member replays a genuine op after its delete was collected (hole 3)', () => {
  const cluster = new TestCluster()
  let attacker: Attacker
  after(async () => {
    await attacker?.stop()
    await cluster.close()
  })

  it('the replay brings nothing back, by gossip or by sync', async () => {
    const alice = await cluster.start('alice', { args: FAST_GC })
    const bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST_GC })
    const bobId = (await bob.status()).id
    attacker = await Attacker.start()
    await attacker.dial(await alice.addr())
    await bob.put('secret', 'launch-codes')
    const secret = await waitFor(() => attacker.captured.find(op => op.origin === bobId && op.key === 'secret'), 'the attacker to capture bob\'s secret from gossip')
    assert.equal((await bob.ctl(['del', 'secret'])).code, 0)
    await waitFor(async () => {
      const all = await Promise.all([alice, bob].map(async node => await node.status()))
      return all.every(s => s.tombstones === 0 && s.counters.collected >= 1)
    }, 'both nodes to collect the tombstone', 20_000)
    // by gossip, with a fresh op of its own so the message is new
    await attacker.publish([secret, attacker.op('attacker:fresh', 'x')])
    await waitFor(async () => await alice.value('attacker:fresh') === 'x', 'the replayed message to reach alice')
    await waitFor(async () => await bob.value('attacker:fresh') === 'x', 'the replayed message to reach bob')
    // by sync
    attacker.answer = (_puller, hello) => [attacker.hello(hello), { kind: 'ops', ops: [secret] }, done]
    // a new connection makes alice pull from the attacker at once (anti-entropy, drawing among two members with its
    // wait backed off, once pulled from the attacker fewer than twice in 15 s on a loaded machine)
    await attacker.hangUp(await alice.addr())
    // every pull that ends from here on ran on the new connection, and was served the replay
    const asked = Date.now()
    await attacker.dial(await alice.addr())
    const pulled = async (): Promise<boolean> => {
      const at = (await alice.status()).peerSync.find((p: { id: string, lastSync?: string }) => p.id === attacker.id)?.lastSync
      return at !== undefined && Date.parse(at) >= asked
    }
    await waitFor(pulled, 'alice to finish a pull from the attacker on its new connection', 30_000)
    for (const node of [alice, bob]) assert.equal(await value(node, 'secret'), 4, `secret stays deleted on ${node.name}`)
  })
})

describe('a hostile member signs two ops with one seq, one for each peer (hole 8)', () => {
  const cluster = new TestCluster()
  let attacker: Attacker
  after(async () => {
    await attacker?.stop()
    await cluster.close()
  })

  it('both nodes end with both ops, identical rows, and name the equivocating member', async () => {
    const alice = await cluster.start('alice', { args: FAST_ATTEST })
    const bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST_ATTEST })
    const aliceId = (await alice.status()).id
    attacker = await Attacker.start()
    const wall = Date.now()
    const a = attacker.op('a', 'for alice', { seq: 1, wall })
    const b = attacker.op('b', 'for bob', { seq: 1, wall })
    // each puller is served its own version of seq 1; nothing goes over gossip
    attacker.answer = (puller, hello) => [
      attacker.hello(hello, { vector: { ...hello.vector, [attacker.id]: 1 } }),
      { kind: 'ops', ops: [puller === aliceId ? a : b] },
      done
    ]
    await attacker.dial(await alice.addr())
    await attacker.dial(await bob.addr())
    await waitFor(async () => [await alice.value('a'), await bob.value('b')].every(v => v !== undefined), 'each node to take its own version')
    await attacker.stop()
    await waitFor(async () => await alice.value('b') === 'for bob' && await bob.value('a') === 'for alice', 'both values on both nodes', 20_000)
    // the value may come first as the other node's write of it again (each that finds seq 1 signed twice writes both
    // keys again), the version itself with the asking
    for (const node of [alice, bob]) await waitFor(async () => (await node.status()).replication.equivocators[attacker.id] === 1, `${node.name} to hold both versions`, 20_000)
    await waitFor(() => JSON.stringify(alice.rows()) === JSON.stringify(bob.rows()), 'identical kv_store rows')
    // each learnt the other's version by asking it again for the attacker's ops (its attestation disagreed), not by a snapshot
    await logged({ get stderr () { return alice.stderr + bob.stderr } }, /"rechecked":1/, 'a node asked the attacker\'s ops again')
    assert.doesNotMatch(alice.stderr + bob.stderr, /"snapshot":true/)
    for (const node of [alice, bob]) {
      assert.deepEqual((await node.status()).replication.equivocators, { [attacker.id]: 1 })
      await logged(node, /signed two different ops with one sequence number/, `${node.name} saw the equivocation`)
      assert.match((await node.ctl(['status'])).stdout, new RegExp(`WARNING: ${attacker.id} signed two different ops with seq 1; both are kept`))
    }
  })
})

describe('a hostile member sets the refresh bit on a write that changes the value', () => {
  const cluster = new TestCluster()
  let attacker: Attacker
  after(async () => {
    await attacker?.stop()
    await cluster.close()
  })

  it('watchers still hear the change as a put', async () => {
    const alice = await cluster.start('alice', { args: FAST })
    const watch = startWatch(alice, ['--prefix', 'svc/'])
    try {
      attacker = await Attacker.start()
      await attacker.dial(await alice.addr())
      await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watch to be ready')
      // gossip from alice reaches the attacker: the topic is joined both ways (a message published before is lost)
      await alice.put('mesh', 'up')
      await waitFor(() => attacker.captured.some(op => op.key === 'mesh'), 'the attacker to hear alice\'s gossip')
      const expires = Date.now() + 3_600_000
      const first = attacker.op('svc/x', 'v1', { expires })
      // the refresh bit is signed and well formed (its own origin's version seen, an expiry): only the value gives it away
      // a millisecond later: made in the same one, the two would tie on their stamps and the signatures would pick the winner
      const lie = attacker.op('svc/x', 'v2', { wall: first.wall + 1, expires, seen: { wall: first.wall, logical: first.logical, origin: attacker.id }, refresh: true })
      for (const [op, shown] of [[first, 'v1'], [lie, 'v2']] as const) {
        await attacker.publish([op])
        await waitFor(async () => await alice.value('svc/x') === shown, `alice to take ${shown}`)
      }
      assert.equal((await alice.json(['get', 'svc/x'])).value, 'v2')
      await waitFor(() => watch.events().filter(e => e.key === 'svc/x').length >= 2, 'the watch to hear both writes')
      assert.deepEqual(watch.events().filter(e => e.key === 'svc/x').map(e => `${e.type} ${String(e.value)}`), ['put v1', 'put v2'])
    } finally {
      await watch.stop()
    }
  })
})
