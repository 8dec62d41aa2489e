/**
 * A member that answers a pull's hello and then says nothing more, keeping
 * the stream open, does not hold the pull until its 5-minute deadline: a
 * sync stream on which no byte arrives for `--sync-stall` (20 s; 3 s here,
 * to wait less) fails (framed.ts; libp2p 3 keeps a stream's
 * `inactivityTimeout` but acts on it nowhere, so the 20 s murmurd set there
 * ended nothing).
 *
 * On the serving side, a stream whose hello has not begun is held while its
 * connection brings more than a trickle: the puller's hello may wait at the
 * puller behind what it sends on its other streams (a node serving this one
 * a catch-up over an 8 KB/s link queued its hello behind ~256 KiB of pages,
 * and the stall wait ended its pull: slow-link-acks.spec, once in CI). Pongs
 * and heartbeats do not hold it. Such streams are at most 16 a connection
 * (8 of the newest sync protocol, 4 of each older one).
 */
import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { SYNC_PROTOCOL, SYNC_PROTOCOL_3_0, SYNC_PROTOCOL_3_1, decodeFrame, encodeFrame, type Frame, type Hello } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, logged, waitFor, type TestNode } from './harness.js'

/** alice's `--sync-stall`, in seconds. */
const STALL_S = 3

describe('a member that falls silent in the middle of a pull', () => {
  const cluster = new TestCluster()
  let attacker: Attacker | undefined
  let release = (): void => {}
  after(async () => {
    release()
    await attacker?.stop()
    await cluster.close()
  })

  it('has the pull fail once nothing has come for --sync-stall', async () => {
    attacker = await Attacker.start()
    const mallory = attacker
    const silence = new Promise<void>(resolve => { release = resolve })
    mallory.answer = async function * (_puller: string, hello: Hello): AsyncGenerator<Frame> {
      yield mallory.hello(hello)
      await silence
    }
    const alice = await cluster.start('alice', { peers: [mallory.node.getMultiaddrs()[0]?.toString() ?? ''], args: ['--sync-stall', String(STALL_S * 1000)] })
    await waitFor(() => mallory.pulls.length > 0, 'alice to pull from mallory')
    const asked = Date.now()
    const stalled = `sent nothing on this sync stream for ${STALL_S} s`
    await logged(alice, new RegExp(`${stalled}[^\\n]*sync from peer failed|sync from peer failed[^\\n]*${stalled}`), 'that the pull from mallory stalled', 60_000)
    const took = Date.now() - asked
    console.log(`# the pull from silent mallory failed ${(took / 1000).toFixed(0)} s after it began`)
    assert.ok(took >= STALL_S * 750, `${took} ms: not before the stall timeout`)
  })
})

describe('a puller whose hello has not begun', () => {
  const cluster = new TestCluster()
  let alice: TestNode
  let mallory: Attacker
  before(async () => {
    mallory = await Attacker.start()
    // pinged every second: its pongs come more often than the stall wait, and must not hold a silent stream
    alice = await cluster.start('alice', { args: ['--sync-stall', String(STALL_S * 1000), '--ping-timeout', '2000'] })
  })
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('is waited for while its connection brings more than a trickle, and served once its hello comes', async () => {
    const stream = await mallory.node.dialProtocol(multiaddr(await alice.addr()), SYNC_PROTOCOL)
    // a ping stream alice echoes: 1 KiB every 250 ms in, as pages of another stream would come, for 2.5 stall waits (ping's own limit is 10 s)
    const ping = await mallory.node.dialProtocol(multiaddr(await alice.addr()), '/ipfs/ping/1.0.0')
    ping.addEventListener('message', () => {})
    const began = Date.now()
    while (Date.now() - began < 2.5 * STALL_S * 1000 && stream.status === 'open') {
      ping.send(new Uint8Array(1024))
      await delay(250)
    }
    ping.abort(new Error('mallory is done'))
    assert.equal(stream.status, 'open', `alice ended the stream after ${((Date.now() - began) / 1000).toFixed(1)} s, its connection busy`)
    const lp = lpStream(stream)
    await lp.write(encodeFrame({ kind: 'control', message: { t: 'hello', group: 'default', name: 'mallory', now: Date.now(), vector: {} } }))
    const answer = decodeFrame((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray())
    assert.deepEqual(answer.kind === 'control' ? answer.message.t : answer.kind, 'hello')
    stream.abort(new Error('mallory is done'))
  })

  it('is ended after the stall wait on a connection that brings only pongs', async () => {
    const stream = await mallory.node.dialProtocol(multiaddr(await alice.addr()), SYNC_PROTOCOL)
    const began = Date.now()
    await waitFor(() => stream.status !== 'open', 'alice to end the silent stream', 15_000, 100)
    const took = Date.now() - began
    console.log(`# a sync stream with no hello, its connection quiet but for pongs: ended after ${(took / 1000).toFixed(1)} s`)
    assert.ok(took >= STALL_S * 750, `${took} ms: not before the stall wait`)
    await logged(alice, /nor more than a trickle on its connection[^\n]*sync serve failed/, 'why alice ended it')
  })

  it('is one of at most 16 on a connection: 8 of the newest sync protocol, 4 of each older one', async () => {
    const addr = multiaddr(await alice.addr())
    const opened: Array<{ protocol: string, stream?: Stream }> = []
    for (const protocol of [SYNC_PROTOCOL, SYNC_PROTOCOL_3_1, SYNC_PROTOCOL_3_0]) {
      for (let i = 0; i < 10; i++) opened.push({ protocol, stream: await mallory.node.dialProtocol(addr, protocol).catch(() => undefined) })
    }
    assert.equal(mallory.node.getConnections().length, 1, 'all on one connection')
    // those past the limit are reset as they arrive; the rest stay until the stall wait (3 s) ends them
    await delay(1_000)
    const open = (protocol: string): number => opened.filter(o => o.protocol === protocol && o.stream?.status === 'open').length
    const counts = [SYNC_PROTOCOL, SYNC_PROTOCOL_3_1, SYNC_PROTOCOL_3_0].map(open)
    console.log(`# 10 silent streams of each sync protocol on one connection: ${counts.join(' / ')} still open after 1 s`)
    assert.deepEqual(counts, [8, 4, 4])
    for (const { stream } of opened) stream?.abort(new Error('mallory is done'))
  })
})
