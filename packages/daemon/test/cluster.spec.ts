/**
 * The reference scenario on three real murmurd processes, driven only through
 * murmurctl, plus late joins, deletes and restarts; then what people who share
 * config expect on top: charlie's cache config under a schema, bob's presence
 * kept alive until he stops, and an edit made while apart that shows up in
 * every node's history as a conflict.
 */
import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { TestCluster, waitFor, type TestNode } from './harness.js'

/**
 * Anti-entropy each second, not each 5 s: what gossip did not carry (an edit
 * made while apart reaches the third node only by a pull) comes within
 * seconds. `npm run demo` (demo.spec) plays the scenario at the defaults.
 */
const FAST = ['--anti-entropy-interval', '1000']

const compareVersions = (a: any, b: any): number =>
  a.wall - b.wall || a.logical - b.logical || (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0)

describe('three-node cluster (reference scenario)', () => {
  const cluster = new TestCluster()
  let alice: TestNode
  let bob: TestNode
  let charlie: TestNode

  before(async () => {
    alice = await cluster.start('alice', { args: FAST })
  })
  after(async () => { await cluster.close() })

  it('alice writes the project config while alone', async () => {
    for (const [key, value] of [['project:name', 'MyAwesomeProject'], ['project:version', '1.0.0'], ['db:host', 'localhost'], ['db:port', '5432'], ['user:alice', 'alice']] as const) {
      await alice.put(key, value)
    }
    const get = await alice.ctl(['get', 'project:name'])
    assert.equal(get.code, 0)
    assert.equal(get.stdout, 'MyAwesomeProject\n')
  })

  it('bob joins later, sees everything alice wrote, and writes his own', async () => {
    bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST })
    await waitFor(async () => await bob.value('user:alice') !== undefined, 'bob to catch up from alice')
    assert.equal((await bob.ctl(['get', 'project:version'])).stdout, '1.0.0\n')
    for (const [key, value] of [['project:version', '1.1.0'], ['api:endpoint', 'https://api.example.com'], ['api:timeout', '30'], ['user:bob', 'bob']] as const) {
      await bob.put(key, value)
    }
  })

  it('charlie joins and writes; all three lists and kv_store tables end identical', async () => {
    charlie = await cluster.start('charlie', { peers: [await alice.addr()], args: FAST })
    for (const [key, value] of [['db:port', '3306'], ['cache:enabled', 'true'], ['cache:ttl', '3600'], ['user:charlie', 'charlie']] as const) {
      await charlie.put(key, value)
    }
    const started = Date.now()
    const list = await cluster.converged([alice, bob, charlie], 11)
    console.log(`# converged in ${Date.now() - started} ms after charlie's last write`)
    assert.equal(list, [
      'api:endpoint = https://api.example.com',
      'api:timeout = 30',
      'cache:enabled = true',
      'cache:ttl = 3600',
      'db:host = localhost',
      'db:port = 3306',
      'project:name = MyAwesomeProject',
      'project:version = 1.1.0',
      'user:alice = alice',
      'user:bob = bob',
      'user:charlie = charlie',
      ''
    ].join('\n'))
    await waitFor(() => {
      const [a, b, c] = [alice.rows(), bob.rows(), charlie.rows()]
      return alice.userRows().length === 11 && JSON.stringify(a) === JSON.stringify(b) && JSON.stringify(b) === JSON.stringify(c)
    }, 'identical kv_store rows in the three SQLite files')
  })

  it('concurrent writes to one key resolve to the same winner everywhere', async () => {
    const [fromAlice, fromBob] = await Promise.all([alice.json(['put', 'counter', '100']), bob.json(['put', 'counter', '200'])])
    const expected = compareVersions(fromAlice.version, fromBob.version) > 0
      ? { value: '100', version: fromAlice.version }
      : { value: '200', version: fromBob.version }
    // every node must pick the higher (wall, logical, origin), whatever order the writes arrived in
    await waitFor(async () => {
      const all = await Promise.all([alice, bob, charlie].map(async node => await node.json(['get', 'counter', '--meta'])))
      return all.every(e => e.value === expected.value && JSON.stringify(e.version) === JSON.stringify(expected.version))
    }, `counter = ${expected.value} on all nodes`)
    await waitFor(() => JSON.stringify(alice.rows()) === JSON.stringify(charlie.rows()) && JSON.stringify(bob.rows()) === JSON.stringify(charlie.rows()), 'identical rows after the conflict')
  })

  it('a delete propagates as a tombstone', async () => {
    const del = await bob.ctl(['del', 'cache:ttl'])
    assert.equal(del.code, 0, del.stderr)
    await waitFor(async () => await charlie.value('cache:ttl') === undefined && await alice.value('cache:ttl') === undefined, 'the delete to reach alice and charlie')
    assert.equal((await alice.status()).tombstones, 1)
    const again = await bob.ctl(['del', 'cache:ttl'])
    assert.equal(again.code, 4, 'deleting a deleted key reports not found')
  })

  it('a node started after all the writes gets them all', async () => {
    const dave = await cluster.start('dave', { peers: [await bob.addr()], args: FAST })
    await cluster.converged([alice, bob, charlie, dave], 11)
    assert.equal((await dave.ctl(['get', 'cache:ttl'])).code, 4)
  })

  it('a restarted node keeps its data and peer ID, and catches up on what it missed', async () => {
    const before = await charlie.status()
    assert.equal(await charlie.stop(), 0)
    await alice.put('while:charlie:was:away', 'yes')
    await charlie.start({ peers: [await alice.addr()], args: FAST })
    const after = await charlie.status()
    assert.equal(after.id, before.id)
    assert.equal((await charlie.ctl(['get', 'user:charlie'])).stdout, 'charlie\n')
    await waitFor(async () => await charlie.value('while:charlie:was:away') === 'yes', 'charlie to catch up after restart')
    await cluster.converged([alice, bob, charlie], 12)
  })

  it('charlie puts his cache config under a schema: a bad value is refused on every node, a good one replicates', async () => {
    const schema = join(cluster.dir, 'cache-ttl.schema.json')
    writeFileSync(schema, JSON.stringify({ type: 'integer', minimum: 0, maximum: 86400 }))
    const set = await charlie.ctl(['schema', 'set', 'cache:ttl', schema])
    assert.equal(set.code, 0, set.stderr)
    await waitFor(async () => (await bob.ctl(['schema', 'list'])).stdout === 'cache:ttl\n', 'the schema to reach bob')
    const bad = await bob.ctl(['put', 'cache:ttl', '-5'])
    assert.equal(bad.code, 6, 'refused on bob, who did not set the schema')
    assert.match(bad.stderr, /does not match the schema for prefix "cache:ttl"/)
    assert.equal((await bob.ctl(['get', 'cache:ttl'])).code, 4, 'nothing was written (the key stays deleted)')
    assert.equal((await bob.ctl(['put', 'cache:ttl', '7200'])).code, 0)
    await waitFor(async () => await charlie.value('cache:ttl') === '7200' && await alice.value('cache:ttl') === '7200', 'the good value everywhere')
  })

  it('bob registers his presence with a keepalive: it stays while he runs, vanishes when he stops, and is back when he returns', async () => {
    assert.equal((await bob.ctl(['put', '--ttl', '3s', '--keepalive', 'presence/bob', '1.1.0'])).code, 0)
    await waitFor(async () => await alice.value('presence/bob') === '1.1.0' && await charlie.value('presence/bob') === '1.1.0', 'bob\'s presence on alice and charlie')
    // refreshed every second: still there well past the first TTL
    const since = Date.now()
    while (Date.now() - since < 4_500) {
      assert.equal((await charlie.ctl(['get', 'presence/bob'])).code, 0, 'presence/bob stays while bob runs')
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    assert.equal(await bob.stop('SIGKILL'), null)
    const stopped = Date.now()
    await waitFor(async () => await alice.value('presence/bob') === undefined && await charlie.value('presence/bob') === undefined,
      'bob\'s presence to expire on alice and charlie', 15_000, 100)
    console.log(`# bob's presence gone ${Date.now() - stopped} ms after SIGKILL (TTL 3 s)`)
    const listed = await alice.ctl(['list', '--prefix', 'presence/'])
    assert.equal(listed.stdout, '', 'no one present')
    await bob.start({ peers: [await alice.addr()], args: FAST })
    await waitFor(async () => await charlie.value('presence/bob') === '1.1.0', 'bob\'s presence back once he restarts')
  })

  it('an edit made while apart shows up in every node\'s history as a conflict; nothing is lost', async () => {
    // charlie away, and back with no peers: he and alice each change the DB port without seeing the other's
    assert.equal(await charlie.stop(), 0)
    rmSync(join(charlie.dataDir, 'peers.json'))
    await charlie.start({ args: FAST })
    await alice.put('db:port', '3307')
    await charlie.put('db:port', '3308')
    assert.equal((await charlie.ctl(['connect', await alice.addr()])).code, 0)
    const winner = await waitFor(async () => {
      const all = await Promise.all([alice, bob, charlie].map(async node => (await node.ctl(['get', 'db:port'])).stdout))
      return all.every(v => v === all[0]) && all[0]
    }, 'one winner for db:port on all three', 20_000)
    assert.equal(winner, '3308\n', 'charlie wrote later')
    for (const node of [alice, bob, charlie]) {
      const history = await waitFor(async () => {
        const h = await node.json<{ versions: Array<{ value: unknown, conflict: boolean, current: boolean, originName?: string }> }>(['history', 'db:port'])
        return h.versions.some(v => v.conflict) && h
      }, `the conflict in ${node.name}'s history`, 20_000)
      assert.ok(history.versions.some(v => v.conflict && v.value === '3307' && v.originName === 'alice'), `${node.name}: alice's 3307 lost to a write that had not seen it`)
      assert.deepEqual(history.versions.filter(v => v.current).map(v => v.value), ['3308'])
      assert.ok(history.versions.some(v => v.value === '3306' && !v.conflict), `${node.name}: charlie's earlier 3306, overwritten by writes that had seen it, is no conflict`)
    }
  })
})
