/**
 * Tombstone garbage collection on real daemons: collected once every member
 * has attested to holding them, held back by a member that is away (until it
 * has been silent for the retention), and a node that returns after that
 * catches up from a snapshot instead of resurrecting the deleted keys; a
 * member whose attestation lies about one origin holds back that origin only,
 * is not asked again for a newer attestation that lies as the one asked about
 * did, and is dialled to be asked again when no link of the node reaches it.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { EMPTY_ACC, attestationKey, digestOf, encodeAttestation, xorInto, type Mark, type Op } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, logged, waitFor, type TestNode } from './harness.js'

const FAST_GC = ['--tombstone-grace', '1000', '--tombstone-retention', '8000', '--anti-entropy-interval', '500']

/** The mark each origin's held prefix passes through at its newest op, from every op the attacker pulled. */
function marksOf (ops: Op[]): Map<string, Mark> {
  const marks = new Map<string, Mark>()
  for (const op of [...ops].sort((a, b) => a.seq - b.seq)) {
    const held = marks.get(op.origin) ?? { seq: 0, wall: 0, logical: 0, acc: EMPTY_ACC }
    assert.equal(op.seq, held.seq + 1, `the pull served ${op.origin}'s ops from 1 without a gap`)
    marks.set(op.origin, { seq: op.seq, wall: op.wall, logical: op.logical, acc: xorInto(held.acc, digestOf(op)) })
  }
  return marks
}

// the three wait on murmurd's timers (grace, retention, anti-entropy), not on the CPU: run side by side, each with its own
// nodes (and each its tests one after another, as they build on each other)
describe('garbage collection', { concurrency: true }, () => {
  describe('tombstone garbage collection', { concurrency: false }, () => {
    const cluster = new TestCluster()
    let alice: TestNode
    let bob: TestNode
    let dave: TestNode
    after(async () => { await cluster.close() })

    it('collects a tombstone on every node once all of them have seen it', async () => {
      alice = await cluster.start('alice', { args: FAST_GC })
      bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST_GC })
      dave = await cluster.start('dave', { peers: [await alice.addr()], args: FAST_GC })
      for (const key of ['gc:1', 'gc:2', 'gc:3', 'gc:4', 'keep']) await alice.put(key, 'v')
      await cluster.converged([alice, bob, dave], 5)
      assert.equal((await alice.ctl(['del', 'gc:4'])).code, 0)
      await waitFor(async () => {
        const all = await Promise.all([alice, bob, dave].map(async n => await n.status()))
        return all.every(s => s.tombstones === 0 && s.counters.collected === 1 && s.keys === 4)
      }, 'the gc:4 tombstone to be collected everywhere')
    })

    it('under steady writes a member attests at most once per tenth of the grace (1–10 s), not every second', async () => {
      // a 30 s grace: one attestation per 3 s at most. bob writes nothing but his attestations, so his own seq counts them
      const grace = ['--tombstone-grace', '30000']
      const writer = await cluster.start('writer', { args: grace })
      const quiet = await cluster.start('quiet', { peers: [await writer.addr()], args: grace })
      const quietId = (await quiet.status()).id
      await writer.put('steady:0', 'v')
      await waitFor(async () => ((await quiet.status()).versionVector[quietId] ?? 0) >= 1, 'quiet\'s first attestation')
      const started = Date.now()
      for (let i = 1; Date.now() - started < 4_500; i++) {
        await writer.put(`steady:${i}`, 'v') // about 10 writes a second, each reaching quiet
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      const elapsed = Date.now() - started
      const attested = ((await quiet.status()).versionVector[quietId] ?? 0) - 1
      // at one a second (the interval before) it made 4 or 5 in this window
      assert.ok(attested <= Math.floor(elapsed / 3_000) + 1, `quiet attested ${attested} times in ${elapsed} ms of writes`)
      assert.ok(attested >= 1, 'it still attests while writes arrive')
      await writer.stop()
      await quiet.stop()
    })

    it('keeps tombstones while a member is away, until it has been silent for the retention', async () => {
      assert.equal(await dave.stop(), 0)
      const deletedAt = Date.now()
      for (const key of ['gc:1', 'gc:2', 'gc:3']) assert.equal((await alice.ctl(['del', key])).code, 0)
      await waitFor(async () => (await bob.status()).keys === 1, 'the deletes to reach bob')
      const collectedAfter = await waitFor(async () => (await alice.status()).tombstones === 0 && Date.now() - deletedAt, 'retention to collect the tombstones', 20_000)
      // with dave away they are not stable: only the 8 s retention (not the 1 s grace) can collect them. The retention
      // counts from dave's last word, which may be a heartbeat (a quarter of the retention, 2 s) before it stopped
      assert.ok(collectedAfter >= 5_000, `collected after ${collectedAfter} ms, before the retention`)
      console.log(`# tombstones held ${collectedAfter} ms while a peer was away (grace 1000 ms, retention 8000 ms)`)
    })

    it('a node back after the horizon resyncs from a snapshot: no deleted key comes back, its offline writes survive', async () => {
      // an empty peer book and a new port: isolated until we connect it
      rmSync(join(dave.dataDir, 'peers.json'))
      await dave.start({ args: FAST_GC })
      assert.equal((await dave.ctl(['get', 'gc:1'])).stdout, 'v\n', 'dave still holds the values deleted while it was away')
      await dave.put('dave:offline', 'written while away')
      assert.equal((await dave.ctl(['connect', await alice.addr()])).code, 0)
      await cluster.converged([alice, bob, dave], 2, 20_000)
      for (const node of [alice, bob, dave]) {
        assert.equal((await node.ctl(['get', 'gc:1'])).code, 4, `gc:1 stays deleted on ${node.name}`)
        assert.equal((await node.ctl(['get', 'dave:offline'])).stdout, 'written while away\n')
      }
      await logged(dave, /writing again what a snapshot or a peer's ops showed: deletes of values deleted and collected while this node was away/, 'dave deleted again what was collected while it was away')
    })
  })

  describe('a chain: collection waits for a member met only through another (hole 2)', { concurrency: false }, () => {
    const cluster = new TestCluster()
    after(async () => { await cluster.close() })

    it('charlie writes k while away, bob deletes it later and keeps the tombstone until charlie has seen it; k ends deleted everywhere', async () => {
      const args = ['--tombstone-grace', '1500', '--anti-entropy-interval', '300']
      // bob – alice – charlie: bob and charlie know only alice
      const alice = await cluster.start('alice', { args })
      const bob = await cluster.start('bob', { peers: [await alice.addr()], args })
      const charlie = await cluster.start('charlie', { peers: [await alice.addr()], args })
      await alice.put('k', 'original')
      await cluster.converged([alice, bob, charlie], 1)
      await waitFor(async () => (await bob.status()).replication.members === 3, 'bob to count charlie as a member, known through alice')
      // charlie goes away (back up alone, with no peers) and writes k
      assert.equal(await charlie.stop(), 0)
      rmSync(join(charlie.dataDir, 'peers.json'))
      await charlie.start({ args })
      await charlie.put('k', 'w-offline')
      // later, bob deletes k; well past the grace period, neither bob nor alice may collect it
      assert.equal((await bob.ctl(['del', 'k'])).code, 0)
      await waitFor(async () => await alice.value('k') === undefined, 'the delete to reach alice')
      const deletedAt = Date.now()
      while (Date.now() - deletedAt < 4_000) {
        for (const node of [alice, bob]) assert.equal((await node.status()).tombstones, 1, `${node.name} keeps the tombstone charlie has not seen`)
        await new Promise(resolve => setTimeout(resolve, 250))
      }
      // charlie comes back through bob only
      assert.equal((await charlie.ctl(['connect', await bob.addr()])).code, 0)
      await waitFor(async () => {
        const all = await Promise.all([alice, bob, charlie].map(async node => await node.status()))
        return all.every(s => s.tombstones === 0 && s.keys === 0)
      }, 'the tombstone to be collected everywhere once charlie has seen it', 20_000)
      for (const node of [alice, bob, charlie]) assert.equal((await node.ctl(['get', 'k'])).code, 4, `k stays deleted on ${node.name}`)
      await waitFor(() => JSON.stringify(alice.rows()) === JSON.stringify(bob.rows()) && JSON.stringify(bob.rows()) === JSON.stringify(charlie.rows()), 'identical kv_store rows')
    })
  })

  const LIAR_ARGS = ['--tombstone-grace', '1000', '--tombstone-retention', '120000', '--anti-entropy-interval', '500']

  describe('a member whose attestation lies about one origin (seed 9647)', { concurrency: false }, () => {
    const cluster = new TestCluster()
    const attackers: Attacker[] = []
    after(async () => {
      for (const attacker of attackers) await attacker.stop()
      await cluster.close()
    })

    /** A new attacker that dials both nodes and attests nothing, once both count it as a member. */
    const joined = async (alice: TestNode, bob: TestNode): Promise<Attacker> => {
      const mallory = await Attacker.start()
      attackers.push(mallory)
      await mallory.dial(await alice.addr())
      await mallory.dial(await bob.addr())
      await mallory.publish([mallory.op(attestationKey(mallory.id), null, { value: encodeAttestation(new Map()) })])
      await waitFor(async () => (await Promise.all([alice, bob].map(async node => await node.status()))).every(s => s.replication.members === 3), 'both nodes to count mallory as a member')
      return mallory
    }

    it('holds back only that origin\'s collection: bob\'s delete is collected everywhere and alice\'s kept, until the member attests the truth', async () => {
      const alice = await cluster.start('alice', { args: LIAR_ARGS })
      const bob = await cluster.start('bob', { peers: [await alice.addr()], args: LIAR_ARGS })
      const [aliceId, bobId] = [(await alice.status()).id, (await bob.status()).id]
      // a member from now on, that has attested nothing of alice's or bob's ops: nothing may be collected yet
      const mallory = await joined(alice, bob)
      await alice.put('a', 'v')
      await bob.put('b', 'v')
      await cluster.converged([alice, bob], 2)
      assert.equal((await alice.ctl(['del', 'a'])).code, 0)
      assert.equal((await bob.ctl(['del', 'b'])).code, 0)
      await waitFor(async () => (await Promise.all([alice, bob].map(async node => await node.status()))).every(s => s.tombstones === 2), 'both deletes to reach both nodes')
      const tombstones = (node: TestNode): string[] => (node.rows() as Array<{ key: string, value: unknown }>).filter(row => row.value === null).map(row => row.key)
      // she attests what she holds, with a wrong digest accumulator for alice's ops
      const truth = marksOf(await mallory.pull(await alice.addr()))
      const lie = new Map(truth)
      const aliceMark = truth.get(aliceId)
      assert.ok(aliceMark !== undefined && (truth.get(bobId)?.seq ?? 0) > 0)
      lie.set(aliceId, { ...aliceMark, acc: new Uint8Array(32).fill(7) })
      lie.delete(mallory.id)
      await mallory.publish([mallory.op(attestationKey(mallory.id), null, { value: encodeAttestation(lie) })])
      await waitFor(() => [alice, bob].every(node => JSON.stringify(tombstones(node)) === '["a"]'), 'bob\'s delete to be collected on both nodes', 20_000)
      for (const node of [alice, bob]) {
        const { floors } = (await node.status()).replication
        assert.ok((floors[bobId] ?? 0) > 0, `${node.name} collected bob's ops`)
        assert.equal(floors[aliceId] ?? 0, 0, `${node.name} holds alice's ops where they were`)
      }
      // well past the grace, alice's delete stays on both
      const from = Date.now()
      while (Date.now() - from < 2_000) {
        for (const node of [alice, bob]) assert.deepEqual(tombstones(node), ['a'], `${node.name} keeps alice's delete`)
        await new Promise(resolve => setTimeout(resolve, 250))
      }
      // the same member attesting the truth lets it go: the lie was what held it
      const honest = new Map(truth)
      honest.delete(mallory.id)
      await mallory.publish([mallory.op(attestationKey(mallory.id), null, { value: encodeAttestation(honest) })])
      await waitFor(() => [alice, bob].every(node => tombstones(node).length === 0), 'alice\'s delete to be collected once mallory attests what alice holds', 20_000)
    })

    it('is not asked again for a newer attestation that disagrees as the one asked about did: bob\'s next delete is collected without it (hostile seed 45542)', async () => {
      const alice = await cluster.start('alice3', { args: LIAR_ARGS })
      const bob = await cluster.start('bob3', { peers: [await alice.addr()], args: LIAR_ARGS })
      const [aliceId, bobId] = [(await alice.status()).id as string, (await bob.status()).id as string]
      const mallory = await joined(alice, bob)
      await alice.put('a', 'v')
      await bob.put('b', 'v')
      await cluster.converged([alice, bob], 2)
      const tombstones = (node: TestNode): string[] => (node.rows() as Array<{ key: string, value: unknown }>).filter(row => row.value === null).map(row => row.key)
      /** Mallory's attestation of what she pulled from alice, but alice's accumulator XORed with the same bytes each time. */
      const lying = async (): Promise<Map<string, Mark>> => {
        const marks = marksOf(await mallory.pull(await alice.addr()))
        const aliceMark = marks.get(aliceId)
        assert.ok(aliceMark !== undefined && (marks.get(bobId)?.seq ?? 0) > 0)
        marks.set(aliceId, { ...aliceMark, acc: xorInto(aliceMark.acc, new Uint8Array(32).fill(7)) })
        marks.delete(mallory.id)
        return marks
      }
      const rechecks = (from: number): string[] => mallory.pulls.slice(from).filter(pull => pull.hello.recheck?.[aliceId] !== undefined).map(pull => pull.puller)
      const before = mallory.pulls.length
      await mallory.publish([mallory.op(attestationKey(mallory.id), null, { value: encodeAttestation(await lying()) })])
      await waitFor(() => [aliceId, bobId].every(id => rechecks(before).includes(id)), 'alice and bob to ask mallory for alice\'s ops again', 20_000)
      // alice writes on and bob deletes b; mallory attests again, as far off alice's ops as before
      await alice.put('c', 'v')
      assert.equal((await bob.ctl(['del', 'b'])).code, 0)
      await waitFor(async () => (await Promise.all([alice, bob].map(async node => await node.status()))).every(s => s.tombstones === 1), 'bob\'s delete to reach both nodes')
      const from = mallory.pulls.length
      await mallory.publish([mallory.op(attestationKey(mallory.id), null, { value: encodeAttestation(await lying()) })])
      await waitFor(() => [alice, bob].every(node => tombstones(node).length === 0), 'bob\'s delete to be collected on both nodes', 20_000)
      assert.deepEqual(rechecks(from), [], 'neither asked mallory again: her new attestation disagrees no more than the one they asked about')
    })

    it('is dialled to be asked again when no link reaches it: alice, at --peer-links 1 with bob, dials mallory for the recheck', async () => {
      const bob = await cluster.start('bob2', { args: LIAR_ARGS })
      const alice = await cluster.start('alice2', { peers: [await bob.addr()], args: [...LIAR_ARGS, '--peer-links', '1'] })
      const aliceId = (await alice.status()).id as string
      // alice meets mallory once (it dials her), then mallory hangs up: at her bound with bob, she does not dial it again
      const mallory = await joined(alice, bob)
      await alice.put('a', 'v')
      await cluster.converged([alice, bob], 1)
      await mallory.hangUp(await alice.addr())
      const linked = async (): Promise<string[]> => (await alice.json<Array<{ id: string }>>(['peers'])).map(peer => peer.id)
      await waitFor(async () => !(await linked()).includes(mallory.id), 'alice to lose her link to mallory')
      const from = mallory.pulls.length
      // mallory attests a wrong digest accumulator for alice's ops; it reaches alice through bob
      const lie = marksOf(await mallory.pull(await bob.addr()))
      const aliceMark = lie.get(aliceId)
      assert.ok(aliceMark !== undefined)
      lie.set(aliceId, { ...aliceMark, acc: new Uint8Array(32).fill(7) })
      lie.delete(mallory.id)
      await mallory.publish([mallory.op(attestationKey(mallory.id), null, { value: encodeAttestation(lie) })])
      await waitFor(() => mallory.pulls.slice(from).some(p => p.puller === aliceId && p.hello.recheck?.[aliceId] !== undefined), 'alice to dial mallory and ask it again for her own ops', 15_000)
      console.log(`# alice asked mallory again over ${(await linked()).includes(mallory.id) ? 'a link she dialled' : 'a link since closed'}`)
    })
  })

  describe('a member that shows a second version of its op once one node has collected past it (hostile seeds 70314, 70229)', () => {
    const cluster = new TestCluster()
    let mallory: Attacker | undefined
    // every pull from mallory hangs after her hello, until the end: asking her again never ends
    let release = (): void => {}
    const hung = new Promise<void>(resolve => { release = resolve })
    after(async () => {
      release()
      await mallory?.stop()
      await cluster.close()
    })

    it('the node whose floor is below it takes it and writes its key again; the node past it takes that write, and the rows agree', async () => {
      const alice = await cluster.start('alice', { args: LIAR_ARGS })
      // bob's floors follow the group's 30 s after it holds an op (his grace), alice's 1 s after: between, only alice is past it
      const bob = await cluster.start('bob', { peers: [await alice.addr()], args: ['--tombstone-grace', '30000', '--tombstone-retention', '120000', '--anti-entropy-interval', '500'] })
      const bobId = (await bob.status()).id as string
      mallory = await Attacker.start()
      const attacker = mallory
      attacker.answer = async function * (_puller, hello) {
        yield attacker.hello(hello)
        await hung
      }
      await mallory.dial(await alice.addr())
      await mallory.dial(await bob.addr())
      await mallory.publish([mallory.op(attestationKey(mallory.id), null, { value: encodeAttestation(new Map()) })])
      const first = mallory.op('first', 'one')
      await mallory.publish([first])
      await waitFor(async () => await alice.value('first') === 'one' && await bob.value('first') === 'one', 'mallory\'s op to reach both nodes')
      // she attests what alice holds, her own ops included: the group holds her seq 2, and alice collects past it
      const truth = marksOf(await mallory.pull(await alice.addr()))
      assert.equal(truth.get(mallory.id)?.seq, first.seq)
      const attested = mallory.op(attestationKey(mallory.id), null, { value: encodeAttestation(truth) })
      await mallory.publish([attested])
      const floorOf = async (node: TestNode): Promise<number> => (await node.status()).replication.floors[mallory?.id ?? ''] ?? 0
      await waitFor(async () => await floorOf(alice) >= first.seq, 'alice\'s floor to pass mallory\'s seq 2', 20_000)
      assert.ok(await floorOf(bob) < first.seq, 'bob\'s floor is still below it')
      // her other version of seq 2, stamped now: alice cannot tell it from a replay of a collected op, bob takes it
      const late = mallory.op('late', 'two', { seq: first.seq })
      await mallory.publish([late])
      await waitFor(async () => (await bob.status()).replication.equivocators[mallory?.id ?? ''] === first.seq, 'bob to find seq 2 signed twice')
      await waitFor(async () => await alice.value('late') === 'two', 'bob\'s write of it again to reach alice', 15_000)
      const rowOf = (node: TestNode, key: string): { origin: string } | undefined => (node.rows() as Array<{ key: string, origin: string }>).find(row => row.key === key)
      assert.equal(rowOf(alice, 'late')?.origin, bobId, 'alice holds bob\'s write of it, not mallory\'s op')
      assert.deepEqual((await alice.status()).replication.equivocators, {}, 'alice never took the second version')
      await waitFor(() => JSON.stringify(alice.rows()) === JSON.stringify(bob.rows()), 'identical kv_store rows')
      await logged(bob, /the keys of an op signed twice with one sequence number/, 'bob says why he wrote it again')
      // alice's and mallory's attestations disagree with bob's ops of mallory's, and mallory never finishes a pull, yet
      // bob counts both: each lacks only the version he holds, and holds nothing he lacks (hostile seed 70229)
      const from = Date.now()
      while (Date.now() - from < 3_000) {
        assert.equal((await bob.status()).replication.collectionBlocked, undefined, 'bob counts every member')
        await new Promise(resolve => setTimeout(resolve, 250))
      }
      // mallory now attests holding the late version too: alice, whose floor had passed it, disagrees with her as with
      // bob; alice asked bob, who sent all he had, and counts mallory alike without asking her (hostile seed 52779)
      const own = truth.get(mallory.id) as Mark
      const marks = new Map(truth)
      marks.set(mallory.id, { seq: attested.seq, wall: attested.wall, logical: attested.logical, acc: xorInto(xorInto(own.acc, digestOf(attested)), digestOf(late)) })
      const again = mallory.op(attestationKey(mallory.id), null, { value: encodeAttestation(marks) })
      await mallory.publish([again])
      const attestationOf = (node: TestNode): { seq: number } | undefined => (node.rows() as Array<{ key: string, seq: number }>).find(row => row.key === attestationKey(mallory?.id ?? ''))
      await waitFor(() => attestationOf(alice)?.seq === again.seq, 'mallory\'s new attestation to reach alice')
      await waitFor(async () => (await alice.status()).replication.collectionBlocked === undefined, 'alice to count mallory', 15_000)
      const since = Date.now()
      while (Date.now() - since < 3_000) {
        assert.equal((await alice.status()).replication.collectionBlocked, undefined, 'alice counts every member')
        await new Promise(resolve => setTimeout(resolve, 250))
      }
    })
  })
})
