/**
 * The README's "a replayed op changes nothing (merging is idempotent)", tried
 * by a hostile member (test/attacker.ts) on real murmurd with ops every node
 * still holds: bob's first value of a key, superseded by his second, and the
 * second itself, sent again by gossip and in a pull. Nothing may change on
 * alice: the row, the key's history (no version twice, no conflict), the
 * conflict count, and no watcher hears of the key. And one that every node
 * collected: the version of a seq she signed twice that a delete superseded,
 * while the other version is still a row there (hole 3 at the floor).
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { attestationKey, encodeAttestation, type Frame, type Op } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, waitFor, type TestNode } from './harness.js'
import { startWatch } from './watch-client.js'

const FAST = ['--anti-entropy-interval', '300', '--anti-entropy-max-interval', '600']
const done: Frame = { kind: 'control', message: { t: 'done' } }

describe('a hostile member replays ops every node holds', () => {
  const cluster = new TestCluster()
  let mallory: Attacker
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('changes nothing: rows, history, conflicts, and no watcher hears of it, by gossip or by sync', async () => {
    const alice = await cluster.start('alice', { args: FAST })
    const bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST })
    const bobId = (await bob.status()).id as string
    mallory = await Attacker.start()
    await mallory.dial(await alice.addr())
    await bob.put('cfg', 'first')
    await bob.put('cfg', 'second')
    const [first, second] = await waitFor(() => {
      const ops = ['first', 'second'].map(value => mallory.captured.find(op => op.origin === bobId && op.value != null && Buffer.from(op.value).toString() === value))
      return ops.every(op => op !== undefined) && ops as [Op, Op]
    }, 'mallory to capture both of bob\'s ops from gossip')
    await waitFor(async () => await alice.value('cfg') === 'second', 'alice to hold bob\'s second value')
    const history = JSON.stringify(await alice.json(['history', 'cfg']))
    const conflicts = (await alice.status()).replication.conflicts
    const watch = startWatch(alice, ['--prefix', 'cfg'])
    try {
      await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watch to be ready')
      const rows = JSON.stringify(alice.userRows())

      // by gossip, each with a fresh op of mallory's so the message is new to gossipsub; then in a pull
      await mallory.publish([first, mallory.op('mallory:1', 'x')])
      await mallory.publish([second, first, mallory.op('mallory:2', 'x')])
      await waitFor(async () => await alice.value('mallory:2') !== undefined, 'the replays by gossip to reach alice')
      const marker = mallory.op('mallory:3', 'x')
      mallory.answer = (_puller, hello) => [mallory.hello(hello), { kind: 'ops', ops: [first, second] }, { kind: 'ops', ops: [marker] }, done]
      await waitFor(async () => await alice.value('mallory:3') !== undefined, 'alice to pull the replays and the op after them')

      const mine = (row: unknown): boolean => !(row as { key: string }).key.startsWith('mallory:')
      assert.equal(JSON.stringify(alice.userRows().filter(mine)), JSON.stringify((JSON.parse(rows) as unknown[]).filter(mine)), 'alice\'s rows')
      assert.equal(JSON.stringify(await alice.json(['history', 'cfg'])), history, 'cfg\'s history')
      assert.equal((await alice.status()).replication.conflicts, conflicts, 'the conflict count')
      assert.equal((await alice.status()).counters.rejected, 0, 'a replay is no refusal either')
      assert.deepEqual(watch.events().filter(e => e.key === 'cfg'), [], 'no event for cfg')
    } finally {
      await watch.stop()
    }
  })
})

describe('a hostile member replays the version it signed twice that a delete superseded, once it was collected', () => {
  const cluster = new TestCluster()
  let mallory: Attacker
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('brings nothing back, though the other version of that seq is still a row (its seq at both floors and held; hole 3)', async () => {
    // mallory never attests: silent past the 5 s retention, she no longer holds collection back
    const args = [...FAST, '--tombstone-grace', '1000', '--tombstone-retention', '5000']
    const alice = await cluster.start('alice', { args })
    const bob = await cluster.start('bob', { peers: [await alice.addr()], args })
    mallory = await Attacker.start()
    await mallory.dial(await alice.addr())
    await mallory.dial(await bob.addr())
    // her seq 1 twice: her attestation (of nothing) and, stamped later, b=two; both nodes take both. Each writes b
    // again (a seq signed twice), not her attestation (a record of hers alone): it stays a row at that seq
    const kept = mallory.op(attestationKey(mallory.id), null, { seq: 1, value: encodeAttestation(new Map()) })
    const lost = mallory.op('b', 'two', { seq: 1, wall: kept.wall + 1 })
    await mallory.publish([kept])
    await mallory.publish([lost])
    for (const node of [alice, bob]) await waitFor(async () => (await node.status()).replication.equivocators[mallory.id] === 1, `${node.name} to hold both versions`)
    // bob deletes b: his delete supersedes the second version (and the writes of it again), and both go with
    // collection; her attestation stays a row
    await waitFor(async () => (await Promise.all([alice, bob].map(async node => await node.value('b')))).every(v => v === 'two'), 'b on both nodes')
    assert.equal((await bob.ctl(['del', 'b'])).code, 0)
    await waitFor(async () => (await Promise.all([alice, bob].map(async node => await node.status()))).every(s => s.tombstones === 0 && s.replication.floors[mallory.id] === 1), 'both nodes to collect past mallory\'s seq 1, and bob\'s delete', 30_000)
    const attestationRow = (node: TestNode): { seq: number, origin: string } | undefined => (node.rows() as Array<{ key: string, seq: number, origin: string }>).find(row => row.key === attestationKey(mallory.id))
    for (const node of [alice, bob]) assert.deepEqual(attestationRow(node), { ...attestationRow(node), seq: 1, origin: mallory.id }, `${node.name} holds her attestation, of seq 1`)
    const rows = [alice, bob].map(node => JSON.stringify(node.rows()))

    // in a pull (by gossip it would wait for one: it is older than the delete collected); no op of hers after it, so
    // her held seq stays at both floors. A new connection makes each node pull from her at once
    mallory.answer = (_puller, hello) => [mallory.hello(hello), { kind: 'ops', ops: [lost, kept] }, done]
    const asked = Date.now()
    for (const node of [alice, bob]) {
      await mallory.hangUp(await node.addr())
      await mallory.dial(await node.addr())
    }
    const pulled = async (node: TestNode): Promise<boolean> => {
      const at = (await node.status()).peerSync.find((p: { id: string, lastSync?: string }) => p.id === mallory.id)?.lastSync
      return at !== undefined && Date.parse(at) >= asked
    }
    for (const node of [alice, bob]) await waitFor(async () => await pulled(node), `${node.name} to finish a pull from mallory on her new connection`, 30_000)
    assert.ok(mallory.pulls.filter(pull => pull.at >= asked).length >= 2, 'both pulled from her')

    const mine = (text: string): unknown[] => (JSON.parse(text) as Array<{ key: string }>).filter(row => !row.key.startsWith('mallory:') && !row.key.startsWith('\u0000'))
    for (const [i, node] of [alice, bob].entries()) {
      assert.equal((await node.ctl(['get', 'b'])).code, 4, `b stays deleted on ${node.name}`)
      assert.deepEqual(mine(JSON.stringify(node.rows())), mine(rows[i] as string), `${node.name}'s rows`)
      assert.deepEqual((await node.status()).replication.equivocators, { [mallory.id]: 1 })
    }
  })
})
