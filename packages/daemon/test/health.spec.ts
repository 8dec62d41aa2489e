/**
 * `murmurctl health` and `murmurctl version` against real daemons: the exit
 * codes a probe relies on (0 healthy, 1 answering but unhealthy, 3 not
 * answering) and what each prints. (A database that takes no write is in
 * disk.spec.ts, on a full file system.)
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { MURMURCTL, TestCluster, run, waitFor } from './harness.js'

describe('murmurctl health and version', () => {
  let cluster: TestCluster
  before(() => { cluster = new TestCluster() })
  after(async () => { await cluster.close() })

  it('health: 0 when writable, 1 with fewer members than --peers, 0 once they connect, 3 when murmurd is gone', async () => {
    const alice = await cluster.start('alice')
    const ok = await alice.ctl(['health'])
    assert.deepEqual([ok.code, ok.stdout], [0, 'OK healthy: database writable, 0 group members connected\n'])
    const lonely = await alice.ctl(['health', '--peers', '1'])
    assert.deepEqual([lonely.code, lonely.stdout, lonely.stderr], [1, 'UNHEALTHY: 0 group members connected, --peers asks for 1\n', ''])
    await cluster.start('bob', { peers: [await alice.addr()] })
    await waitFor(async () => (await alice.ctl(['health', '--peers', '1'])).code === 0, 'alice to count bob')
    const json = await alice.json(['health', '--peers', '1'])
    assert.deepEqual(json, { healthy: true, writable: true, members: 1, peers: 1, needPeers: 1, problems: [] })
    const bad = await alice.ctl(['health', '--peers', '-1'])
    assert.equal(bad.code, 2)
    await alice.stop()
    const gone = await alice.ctl(['health'])
    assert.equal(gone.code, 3)
    assert.match(gone.stderr, /cannot reach murmurd at .*murmurd\.sock/)
  })

  it('health: exit 3 once --timeout passes when murmurd is hung, not a probe that never ends', async () => {
    const carol = await cluster.start('carol')
    const pid = carol.process?.pid as number
    process.kill(pid, 'SIGSTOP')
    try {
      const started = Date.now()
      const hung = await run(process.execPath, [MURMURCTL, '--socket', carol.socket, '--timeout', '1000', 'health'], { timeoutMs: 15_000 })
      assert.deepEqual([hung.code, hung.signal], [3, null], `murmurctl exited (${Date.now() - started} ms): ${hung.stderr}`)
      assert.match(hung.stderr, /did not answer node_health within 1000 ms/)
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    await carol.stop()
  })

  it('version: the client\'s, the daemon\'s and its protocols; the client\'s alone and exit 3 without a daemon', async () => {
    const bob = cluster.node('bob')
    const version = await bob.ctl(['version'])
    assert.equal(version.code, 0, version.stderr)
    const lines = version.stdout.trim().split('\n')
    assert.match(lines[0] ?? '', /^murmurctl \d+\.\d+\.\d+ \(Node\.js v\d+/)
    assert.match(lines[1] ?? '', /^murmurd {3}\d+\.\d+\.\d+ \(Node\.js v\d+/)
    assert.equal(lines[2], 'protocols rpc JSON-RPC 2.0 over NDJSON; sync /murmur/sync/3.2.0; gossip /murmur/default/ops/3')
    const status = await bob.status()
    assert.equal((await bob.json(['version'])).daemon.version, status.version)
    await bob.stop()
    const alone = await bob.ctl(['version'])
    assert.equal(alone.code, 3)
    assert.equal(alone.stdout, lines[0] + '\n')
  })
})
