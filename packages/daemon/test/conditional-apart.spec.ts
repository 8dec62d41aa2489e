/**
 * The README's limit on conditional writes (Guarantees, 4): one is atomic on
 * the node that takes it and nowhere else, so "two nodes can both accept one
 * concurrently, and the later version wins everywhere; the earlier one stays
 * in every node's history, marked as a conflict". Tried on real murmurd and
 * murmurctl: alice and bob, apart (each runs while the other is stopped),
 * both take `put --if-version` of the version they both hold, and both take
 * `put --if-absent` of a key neither holds; then they meet.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { TestCluster, versionId, waitFor, type TestNode } from './harness.js'

async function succeeds (node: TestNode, args: string[]): Promise<void> {
  const result = await node.ctl(args)
  assert.equal(result.code, 0, `${node.name}: murmurctl ${args.join(' ')}: ${result.stderr}`)
}

describe('conditional writes on nodes apart', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('both are accepted; the later wins on both nodes, and the earlier is in both histories as a conflict', async () => {
    const alice = await cluster.start('alice')
    const bob = await cluster.start('bob', { peers: [await alice.addr()] })
    await alice.put('cfg', 'v1')
    await waitFor(async () => await bob.value('cfg') === 'v1', 'bob to hold v1')
    const v1 = await versionId(alice, 'cfg')

    await bob.stop()
    await succeeds(alice, ['put', '--if-version', v1, 'cfg', 'alice over v1'])
    await succeeds(alice, ['put', '--if-absent', 'lease', 'alice'])
    await alice.stop()
    await bob.start()
    await succeeds(bob, ['put', '--if-version', v1, 'cfg', 'bob over v1'])
    await succeeds(bob, ['put', '--if-absent', 'lease', 'bob'])
    await alice.start()
    await succeeds(bob, ['connect', await alice.addr()])

    for (const [key, winner, loser] of [['cfg', 'bob over v1', 'alice over v1'], ['lease', 'bob', 'alice']] as const) {
      await waitFor(async () => {
        const [a, b] = await Promise.all([alice.ctl(['get', key]), bob.ctl(['get', key])])
        return a.stdout === `${winner}\n` && b.stdout === `${winner}\n`
      }, `both nodes to hold bob's later ${key}`)
      for (const node of [alice, bob]) {
        const history = await waitFor(async () => {
          const got = await node.json(['history', key])
          return got.versions.some((v: { conflict: boolean }) => v.conflict) && got
        }, `alice's ${key} to be a conflict on ${node.name}`)
        const shown = history.versions.map((v: { value: string, current: boolean, conflict: boolean }) => [v.value, v.current, v.conflict])
        assert.deepEqual(shown.filter(([, current, conflict]: [string, boolean, boolean]) => current || conflict), [[winner, true, false], [loser, false, true]], `${key} on ${node.name}`)
      }
    }
  })
})
