/**
 * History and honest conflicts on real `murmurd` and `murmurctl` binaries:
 * two nodes that have not met both write a key, then connect: both keep the
 * same winner, show the loser with `get --conflicts` and in `history`, emit a
 * `conflict` event (to a live watch, and to one resumed from a cursor), and
 * count it in `status`; an overwrite of a value the writer had seen is no
 * conflict; `revert` writes an old version again on every node; the bound
 * holds. And the same through the library API.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { createMurmur, type ChangeEvent, type Murmur } from '../src/index.js'
import { TestCluster, waitFor, type TestNode } from './harness.js'
import { startWatch, type WatchEvent as Event } from './watch-client.js'

/** Rows of `key_history` for `key`, read from the SQLite file as `sqlite3` would. */
function pastRows (node: TestNode, key: string): number {
  const db = new Database(join(node.dataDir, 'murmur.db'), { readonly: true })
  try {
    return db.prepare('SELECT count(*) FROM key_history WHERE key = ?').pluck().get(key) as number
  } finally {
    db.close()
  }
}

// the four wait mostly on replication between their own nodes, not on each other: run side by side (each its tests one after another)
describe('history', { concurrency: true }, () => {
  describe('conflicts between nodes that had not met', { concurrency: false }, () => {
    const cluster = new TestCluster()
    let alice: TestNode
    let bob: TestNode
    before(async () => {
      alice = await cluster.start('alice')
      bob = await cluster.start('bob')
    })
    after(async () => { await cluster.close() })

    it('keep one winner everywhere, show the loser in get --conflicts and history, emit conflict, count it', async () => {
      const watches = [startWatch(alice), startWatch(bob)]
      try {
        await waitFor(async () => (await alice.status()).replication?.conflicts === 0, 'alice to answer')
        // subscribed before the writes (a watch begins at its subscription: a put before it is not on it)
        for (const watch of watches) await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watches to be ready')
        const before = (await alice.status()) as { id: string }
        assert.equal((await alice.ctl(['put', '--json', 'cfg', '{"replicas":3}'])).code, 0)
        assert.equal((await bob.ctl(['put', '--json', 'cfg', '{"replicas":5}'])).code, 0)
        // the cursor of alice's put, once her watch has it (read at once, it could have had no event yet)
        const cursor = await waitFor(() => watches[0]?.events().find(e => e.type === 'put' && e.key === 'cfg')?.cursor, 'alice\'s put on her watch')
        assert.equal((await bob.ctl(['connect', await alice.addr()])).code, 0)
        const winner = await waitFor(async () => {
          const [a, b] = await Promise.all([alice.ctl(['get', 'cfg']), bob.ctl(['get', 'cfg'])])
          return a.stdout === b.stdout && a.stdout
        }, 'both nodes to agree on cfg')
        assert.equal(winner, '{"replicas":5}\n', 'bob wrote later')
        for (const node of [alice, bob]) {
          const got = await waitFor(async () => {
            const entry = await node.json(['get', 'cfg', '--conflicts'])
            return entry.conflicts?.length === 1 && entry
          }, `the conflict on ${node.name}`)
          assert.deepEqual(got.value, { replicas: 5 })
          assert.deepEqual(got.conflicts[0].value, { replicas: 3 })
          assert.equal(got.conflicts[0].version.origin, before.id)
          assert.equal(got.conflicts[0].originName, 'alice')
          assert.equal(got.conflicts[0].type, 'json')
          const human = await node.ctl(['get', 'cfg', '--conflicts'])
          assert.match(human.stdout, /^conflict: \{"replicas":3\}\s+by alice \(12D3\w+\) at \d{4}-/m)
          assert.equal((await node.status()).replication.conflicts, 1)
          assert.match((await node.ctl(['status'])).stdout, /conflicts:\s+1 version in history lost to a write that had not seen them/)
        }
        for (const [i, watch] of watches.entries()) {
          await waitFor(() => watch.events().some(e => e.type === 'conflict' && e.key === 'cfg'), `a conflict event on ${i === 0 ? 'alice' : 'bob'}`)
          const event = watch.events().find(e => e.type === 'conflict') as Event
          assert.deepEqual(event.value, { replicas: 3 })
          assert.equal(event.version?.origin, before.id)
        }
        // a watch resumed from a cursor taken before the connect replays the conflict
        const resumed = startWatch(alice, ['--since', String(cursor)])
        try {
          await waitFor(() => resumed.events().some(e => e.type === 'ready'), 'the resumed watch to be ready')
          assert.ok(resumed.events().some(e => e.type === 'conflict' && e.key === 'cfg'), JSON.stringify(resumed.events()))
        } finally {
          assert.equal(await resumed.stop(), 0)
        }
        const history = await alice.json(['history', 'cfg'])
        assert.deepEqual(history.versions.map((v: any) => [v.originName, v.current, v.conflict, v.seen === 'nothing']), [['bob', true, false, true], ['alice', false, true, true]])
        const table = (await alice.ctl(['history', 'cfg'])).stdout.split('\n')
        assert.match(table[0] ?? '', /^VERSION\s+WHEN\s+WHO\s+TYPE\s+VALUE\s+NOTES$/)
        assert.match(table[1] ?? '', /^12D3\w+\/\d+\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+bob\s+json\s+\{"replicas":5\}\s+current/)
        assert.match(table[2] ?? '', /^12D3\w+\/\d+\s+\S+\s+alice\s+json\s+\{"replicas":3\}\s+CONFLICT: lost to a write that had not seen it/)
      } finally {
        for (const watch of watches) await watch.stop()
      }
    })

    it('get --conflicts on a key deleted since shows the deletion and the conflicts still in history', async () => {
      assert.equal((await alice.ctl(['del', 'cfg'])).code, 0)
      const human = await alice.ctl(['get', 'cfg', '--conflicts'])
      assert.equal(human.code, 0, human.stderr)
      assert.match(human.stdout, /^cfg \(deleted\)  \(current, 12D3\w+\/\d+\)\nconflict: \{"replicas":3\}\s+by alice /)
      const json = await alice.json(['get', 'cfg', '--conflicts'])
      assert.deepEqual([json.key, json.deleted, json.conflicts.map((c: any) => c.value)], ['cfg', true, [{ replicas: 3 }]])
      assert.equal(json.version.origin, (await alice.status()).id)
      assert.equal((await alice.ctl(['get', 'cfg'])).code, 4, 'without --conflicts a deleted key is not found')
      assert.equal((await alice.ctl(['get', 'never-written', '--conflicts'])).code, 4, 'a key with no history is not found')
    })

    it('an overwrite of a value the writer had seen is no conflict', async () => {
      await alice.put('seq', 'one')
      await waitFor(async () => await bob.value('seq') === 'one', 'one on bob')
      await bob.put('seq', 'two')
      await waitFor(async () => await alice.value('seq') === 'two', 'two on alice')
      for (const node of [alice, bob]) {
        const history = await node.json(['history', 'seq'])
        assert.deepEqual(history.versions.map((v: any) => [v.value, v.originName, v.conflict]), [['two', 'bob', false], ['one', 'alice', false]])
        assert.equal(history.versions[0].seen.origin, history.versions[1].version.origin, 'bob says he saw alice\'s write')
        assert.deepEqual((await node.json(['get', 'seq', '--conflicts'])).conflicts, [])
        assert.equal((await node.status()).replication.conflicts, 1, 'still only the first conflict')
      }
    })

    it('revert writes an old version (with its type) again on every node; a version not held is exit 4', async () => {
      assert.equal((await alice.ctl(['put', '--json', 'r', '{"a":1}'])).code, 0)
      await alice.put('r', 'plain')
      const old = (await alice.json(['history', 'r'])).versions[1].version
      const reverted = await alice.ctl(['revert', 'r', `${old.origin as string}/${old.seq as number}`])
      assert.equal(reverted.code, 0, reverted.stderr)
      assert.match(reverted.stdout, /^OK reverted r to 12D3\w+\/\d+, version \d+/)
      for (const node of [alice, bob]) {
        await waitFor(async () => (await node.ctl(['get', 'r'])).stdout === '{"a":1}\n', `r reverted on ${node.name}`)
        assert.equal((await node.json(['get', 'r'])).type, 'json')
        assert.equal((await node.json(['history', 'r'])).versions.length, 3)
      }
      const missing = await alice.ctl(['revert', 'r', `${old.origin as string}/999`])
      assert.equal(missing.code, 4)
      assert.match(missing.stderr, /"r" has no version 12D3\w+\/999 on this node \(murmurctl history r lists those it holds\)/)
      assert.equal((await alice.ctl(['revert', 'r', 'not-a-version'])).code, 2)
      assert.equal((await alice.ctl(['history', 'never-written'])).code, 4)
    })
  })

  describe('the history bound', { concurrency: false }, () => {
    const cluster = new TestCluster()
    after(async () => { await cluster.close() })

    it('keeps the last --history-versions versions and no more past values than --history-bytes', async () => {
      const node = await cluster.start('carol', { args: ['--history-versions', '3', '--history-bytes', '10'] })
      for (let i = 0; i < 6; i++) await node.put('k', `v${i}`)
      assert.deepEqual((await node.json(['history', 'k'])).versions.map((v: any) => v.value), ['v5', 'v4', 'v3'])
      assert.equal(pastRows(node, 'k'), 2)
      await node.put('k', 'x'.repeat(9))
      await node.put('k', 'last')
      assert.deepEqual((await node.json(['history', 'k'])).versions.map((v: any) => v.value), ['last', 'x'.repeat(9)], 'v5 no longer fits the bytes')
      const bad = await cluster.node('dave').start({ args: ['--history-versions', '0'] }).then(() => 'started', (err: Error) => err.message)
      assert.match(bad, /invalid --history-versions "0": expected a positive whole number/)
    })
  })

  describe('a conflict the bound drops at once', { concurrency: false }, () => {
    const cluster = new TestCluster()
    after(async () => { await cluster.close() })

    it('is reported by no node\'s watch, as none holds it (--history-versions 1)', async () => {
      const args = ['--history-versions', '1']
      const alice = await cluster.start('alice', { args })
      const bob = await cluster.start('bob', { args })
      const watches = [startWatch(alice), startWatch(bob)]
      try {
        for (const watch of watches) await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watches to be ready')
        await alice.put('k', 'a')
        await bob.put('k', 'b')
        assert.equal((await bob.ctl(['connect', await alice.addr()])).code, 0)
        await waitFor(async () => await alice.value('k') === 'b', 'bob\'s k on alice')
        // a write after: once each watch has it, whatever the heal told is told
        await bob.put('mark', 'x')
        for (const watch of watches) await waitFor(() => watch.events().some(e => e.type === 'put' && e.key === 'mark'), 'mark on the watches')
        for (const [i, node] of [alice, bob].entries()) {
          assert.deepEqual((await node.json(['get', 'k', '--conflicts'])).conflicts, [])
          assert.equal((await node.status()).replication.conflicts, 0)
          assert.deepEqual(watches[i]?.events().filter(e => e.type === 'conflict'), [], `no conflict told on ${node.name}`)
        }
      } finally {
        for (const watch of watches) await watch.stop()
      }
    })
  })

  describe('history through the library API', { concurrency: false }, () => {
    const cluster = new TestCluster()
    const nodes: Murmur[] = []
    after(async () => {
      await Promise.all(nodes.map(async node => await node.stop()))
      await cluster.close()
    })

    it('history(), history({ conflicts }), revert() and the conflict change event', async () => {
      const open = async (name: string): Promise<Murmur> => {
        const node = await createMurmur({ name, dataDir: join(cluster.dir, name), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false })
        nodes.push(node)
        return node
      }
      const a = await open('a')
      const b = await open('b')
      const events: ChangeEvent[] = []
      a.on('change', event => events.push(event))
      const keys = ['mode', 'c1', 'c2', 'c3']
      for (const key of keys) await a.put(key, 'a')
      for (const key of keys) await b.put(key, 'b')
      const before = events.length
      await b.connect(a.addrs[0] as string)
      await waitFor(() => keys.every(key => a.history(key, { conflicts: true }).length === 1) && b.history('mode', { conflicts: true }).length === 1, 'the conflicts on both')
      await waitFor(() => events.filter(e => e.type === 'conflict').length === keys.length, 'a conflict event for each key')
      // b's ops came in together and each made a conflict: told in cursor order, so a watcher resuming from the last cursor it saw misses none
      const cursors = events.slice(before).map(e => e.cursor)
      assert.deepEqual(cursors, [...cursors].sort((x, y) => (x ?? 0) - (y ?? 0)), JSON.stringify(events.slice(before).map(e => [e.type, e.key, e.cursor])))
      const [lost] = a.history('mode', { conflicts: true })
      assert.equal(Buffer.from(lost?.value ?? []).toString(), 'a')
      assert.equal(lost?.originName, 'a')
      assert.equal(lost?.version.origin, a.peerId)
      await waitFor(() => events.some(e => e.type === 'conflict'), 'the conflict event')
      assert.equal(Buffer.from(events.find(e => e.type === 'conflict')?.value ?? []).toString(), 'a')
      assert.equal(a.status().replication?.conflicts, keys.length)
      await b.revert('mode', lost?.version as { origin: string, seq: number })
      await waitFor(() => Buffer.from(a.get('mode')?.value ?? []).toString() === 'a', 'the revert on a')
      assert.deepEqual(a.history('mode').map(v => [Buffer.from(v.value ?? []).toString(), v.current]), [['a', true], ['b', false], ['a', false]])
    })

    it('revert() to a delete of a key whose tombstone was collected gives that delete, not a made-up version', async () => {
      const node = await createMurmur({ name: 'alone', dataDir: join(cluster.dir, 'alone'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, tombstoneGraceMs: 500 })
      nodes.push(node)
      await node.put('gone', 'v')
      const { version: deleted } = await node.delete('gone')
      await waitFor(() => node.status().tombstones === 0 && node.history('gone')[0]?.deleted, 'the tombstone collected, kept in history')
      assert.deepEqual(await node.revert('gone', deleted as { origin: string, seq: number }), deleted, 'nothing written: the delete the key is at')
    })
  })
})
