/**
 * A member that opens pulls and then takes nothing cannot fill a real
 * murmurd's memory (README, Security: what a member cannot do). Each serve
 * writes a frame only once the connection has taken what it wrote before,
 * so what a paused puller makes murmurd hold is a few frames a serve, not
 * what the store holds; and a serve whose puller takes nothing for a while
 * ends.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { SYNC_PROTOCOL, SYNC_PROTOCOL_3_0, encodeFrame } from '@murmur/core'
import { MurmurClient } from '@murmur/protocol'
import { Attacker } from './attacker.js'
import { TestCluster, waitFor } from './harness.js'

/** 48 values of 512 KiB: 24 MiB that every serve would send. */
const VALUES = 48
const VALUE_BYTES = 512 * 1024
const rssBytes = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024

describe('a member that opens pulls and takes nothing', () => {
  const cluster = new TestCluster()
  const attackers: Attacker[] = []
  after(async () => {
    for (const attacker of attackers) await attacker.stop()
    await cluster.close()
  })

  it('makes murmurd hold little per serve, and the serves end', async () => {
    const alice = await cluster.start('alice')
    const client = await MurmurClient.connect(alice.socket)
    try {
      for (let i = 0; i < VALUES; i++) await client.call('kv_put', { key: `big:${i}`, value: Buffer.alloc(VALUE_BYTES, 97 + (i % 26)).toString('base64'), encoding: 'base64' })
    } finally {
      client.close()
    }
    const pid = alice.process?.pid as number
    const addr = multiaddr(await alice.addr())
    const before = rssBytes(pid)
    const streams: Stream[] = []
    for (let peer = 0; peer < 4; peer++) {
      const mallory = await Attacker.start()
      attackers.push(mallory)
      for (const protocol of [SYNC_PROTOCOL, SYNC_PROTOCOL_3_0]) {
        for (let i = 0; i < 8; i++) {
          const stream = await mallory.node.dialProtocol(addr, protocol)
          await lpStream(stream).write(encodeFrame({ kind: 'control', message: { t: 'hello', group: 'default', name: 'mallory', now: Date.now(), vector: {} } }))
          stream.pause()
          streams.push(stream)
        }
      }
    }
    let most = 0
    const started = Date.now()
    await waitFor(() => { most = Math.max(most, rssBytes(pid)); return Date.now() - started > 12_000 }, 'twelve seconds of paused pulls', 20_000, 200)
    console.log(`# ${streams.length} paused pulls of ${VALUES * VALUE_BYTES / 2 ** 20} MiB: alice's RSS ${(before / 2 ** 20).toFixed(0)} → at most ${(most / 2 ** 20).toFixed(0)} MiB`)
    assert.ok(most - before < 160 * 2 ** 20, `alice's RSS grew ${((most - before) / 2 ** 20).toFixed(0)} MiB`)
    // murmurd gives up on each serve once its puller has taken nothing for STALL_MS (20 s)
    await waitFor(() => streams.every(stream => stream.status !== 'open'), 'alice to end every stalled serve', 60_000, 200)
    console.log(`# every serve ended ${((Date.now() - started) / 1000).toFixed(0)} s after the pulls paused`)
    assert.equal((await alice.ctl(['get', 'big:0'])).code, 0, 'and she still answers')
  })
})
