/**
 * A node up for hours still redials a member from its peer book. libp2p's
 * peer store hid each address an hour after it first saw it (a reconnection
 * does not renew it), so a member that dropped after that was dialled by its
 * ID with no address, forever. Hours pass here in a moment: the dialling node
 * runs under libfaketime, its clock read from a file the test moves two hours
 * ahead (timers keep the real, monotonic clock).
 */
import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { LIBFAKETIME } from './fake-time.js'
import { TestCluster, waitFor } from './harness.js'


describe('redial after hours', { skip: LIBFAKETIME == null ? 'libfaketime is not installed (apt-get install -y faketime)' : false }, () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('redials a member from the peer book when it comes back, two hours after first meeting it', async () => {
    const bob = await cluster.start('bob')
    const { id, addrs } = await bob.status() as { id: string, addrs: string[] }
    const listen = (addrs[0] as string).replace(/\/p2p\/[^/]+$/, '')
    const alice = cluster.node('alice')
    mkdirSync(alice.dataDir, { recursive: true, mode: 0o700 })
    writeFileSync(join(alice.dataDir, 'peers.json'), JSON.stringify([{ id, name: 'bob', addrs: [listen], via: 'peerbook', lastSeen: new Date().toISOString() }]))
    const clock = join(cluster.dir, 'alice-clock')
    writeFileSync(clock, '+0\n')
    await alice.start({ prefix: ['env', `LD_PRELOAD=${LIBFAKETIME as string}`, `FAKETIME_TIMESTAMP_FILE=${clock}`, 'FAKETIME_CACHE_DURATION=1', 'FAKETIME_DONT_FAKE_MONOTONIC=1'] })
    const linked = async (): Promise<boolean> => (await alice.json<Array<{ id: string, member: boolean }>>(['peers'])).some(p => p.id === id && p.member)
    await waitFor(linked, 'alice to dial bob from her peer book')
    writeFileSync(clock, '+2h\n')
    await waitFor(async () => (await alice.status()).uptimeMs > 3_600_000, 'alice\'s clock to move two hours ahead')
    // bob comes back on the same port, and forgets alice, so only alice's dial can join them again
    await bob.stop()
    rmSync(join(bob.dataDir, 'peers.json'), { force: true })
    await bob.start({ listen })
    await waitFor(linked, 'alice to redial bob', 15_000, 200)
    assert.doesNotMatch(alice.stderr, /no valid addresses/)
  })
})
