/**
 * The reference scenario on three real murmurd processes, driven only through
 * murmurctl, plus late joins, deletes and restarts.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestCluster, waitFor, type TestNode } from './harness.js'

const compareVersions = (a: any, b: any): number =>
  a.wall - b.wall || a.logical - b.logical || (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0)

describe('three-node cluster (reference scenario)', () => {
  const cluster = new TestCluster()
  let alice: TestNode
  let bob: TestNode
  let charlie: TestNode

  before(async () => {
    alice = await cluster.start('alice')
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
    bob = await cluster.start('bob', { peers: [await alice.addr()] })
    await waitFor(async () => (await bob.ctl(['get', 'user:alice'])).code === 0, 'bob to catch up from alice')
    assert.equal((await bob.ctl(['get', 'project:version'])).stdout, '1.0.0\n')
    for (const [key, value] of [['project:version', '1.1.0'], ['api:endpoint', 'https://api.example.com'], ['api:timeout', '30'], ['user:bob', 'bob']] as const) {
      await bob.put(key, value)
    }
  })

  it('charlie joins and writes; all three lists and kv_store tables end identical', async () => {
    charlie = await cluster.start('charlie', { peers: [await alice.addr()] })
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
    await waitFor(async () => (await charlie.ctl(['get', 'cache:ttl'])).code === 4 && (await alice.ctl(['get', 'cache:ttl'])).code === 4, 'the delete to reach alice and charlie')
    assert.equal((await alice.status()).tombstones, 1)
    const again = await bob.ctl(['del', 'cache:ttl'])
    assert.equal(again.code, 4, 'deleting a deleted key reports not found')
  })

  it('a node started after all the writes gets them all', async () => {
    const dave = await cluster.start('dave', { peers: [await bob.addr()] })
    await cluster.converged([alice, bob, charlie, dave], 11)
    assert.equal((await dave.ctl(['get', 'cache:ttl'])).code, 4)
  })

  it('a restarted node keeps its data and peer ID, and catches up on what it missed', async () => {
    const before = await charlie.status()
    assert.equal(await charlie.stop(), 0)
    await alice.put('while:charlie:was:away', 'yes')
    await charlie.start({ peers: [await alice.addr()] })
    const after = await charlie.status()
    assert.equal(after.id, before.id)
    assert.equal((await charlie.ctl(['get', 'user:charlie'])).stdout, 'charlie\n')
    await waitFor(async () => (await charlie.ctl(['get', 'while:charlie:was:away'])).stdout === 'yes\n', 'charlie to catch up after restart')
    await cluster.converged([alice, bob, charlie], 12)
  })
})
