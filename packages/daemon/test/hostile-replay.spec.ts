/**
 * The README's "a replayed op changes nothing (merging is idempotent)", tried
 * by a hostile member (test/attacker.ts) on real murmurd with ops every node
 * still holds: bob's first value of a key, superseded by his second, and the
 * second itself, sent again by gossip and in a pull. Nothing may change on
 * alice: the row, the key's history (no version twice, no conflict), the
 * conflict count, and no watcher hears of the key.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { Frame, Op } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, waitFor } from './harness.js'
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
