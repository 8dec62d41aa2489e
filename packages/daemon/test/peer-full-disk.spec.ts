/**
 * A peer's ops that a full disk keeps out come again (README, Security:
 * "counted only once stored"): while alice's disk is full, what bob writes
 * cannot be committed on her side; she counts none of it (her version
 * vector does not move, so she goes on asking for it) and, once space
 * returns, takes it by anti-entropy. Root only: alice's data dir is on a
 * small tmpfs, filled.
 */
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { FULL_DISK_SKIP, fillUnder, smallDisk } from './full-disk.js'
import { TestCluster, TestNode, waitFor } from './harness.js'
import { FAST } from './hostile-checks.js'

describe('a peer\'s ops while this node\'s disk is full', { skip: FULL_DISK_SKIP }, () => {
  const cluster = new TestCluster()
  let mount: string
  let unmount = (): void => {}
  let alice: TestNode
  let bob: TestNode

  before(async () => {
    ({ mount, unmount } = smallDisk(cluster))
    alice = new TestNode('alice', join(mount, 'alice'))
    cluster.nodes.set('alice', alice)
    await alice.start({ args: FAST })
    bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST })
    await bob.put('before', 'the disk filled')
    await waitFor(async () => await alice.value('before') === 'the disk filled', 'bob\'s first write to reach alice')
  })
  after(async () => {
    await alice?.stop('SIGKILL')
    unmount()
    await cluster.close()
  })

  it('are counted nowhere while her commits fail, and come once space returns', async () => {
    const bobId = (await bob.status()).id as string
    const failures = (): number => (alice.stderr.match(/cannot apply remote ops|sync from peer failed/g) ?? []).length
    const failedBefore = failures()
    // full, until even a tiny write of her own finds no room in the WAL
    const filler = await fillUnder(alice, mount)
    const held = (await alice.status()).versionVector[bobId] as number
    // bob writes on: 400 kB, more than any room left in her WAL
    for (let i = 0; i < 4; i++) await bob.put(`while-full:${i}`, `${i} `.repeat(50_000))
    const wrote = (await bob.status()).versionVector[bobId] as number
    // gossip's and then her pulls' commits fail: she counts none of it, so she asks again (three failures at least)
    await waitFor(() => failures() >= failedBefore + 3, 'alice to fail to commit bob\'s ops, and to try again', 20_000)
    const status = await alice.status()
    assert.equal(status.versionVector[bobId], held, `alice counts bob's ops up to ${status.versionVector[bobId] as number} while her disk is full (she held ${held}, he wrote ${wrote})`)
    assert.equal(await alice.value('while-full:0'), undefined)

    rmSync(filler)
    await waitFor(async () => (await alice.status()).versionVector[bobId] === wrote, 'alice to take bob\'s ops once space returns', 30_000)
    for (let i = 0; i < 4; i++) assert.equal(await alice.value(`while-full:${i}`), `${i} `.repeat(50_000))
    assert.equal(alice.process?.exitCode, null, 'murmurd stayed up throughout')
  })
})
