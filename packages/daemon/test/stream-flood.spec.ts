/**
 * A stranger that opens streams and dawdles over their protocol (README,
 * Security): any peer past the noise handshake reaches murmurd's muxer,
 * member or not. libp2p gives an inbound stream 10 s to agree a protocol, and
 * yamux took up to 1,000 inbound streams a connection: 600 streams, each sent
 * the first KiB of a protocol's name, grew a murmurd by ~30 MB a connection
 * (~60 KB a stream), again every 10 s; and murmurd answers each unknown
 * name ("na"), holding the answers the stranger does not read: one stream
 * of 256 KiB of names grew it by ~45 MB (80 MB for ten). Now a connection
 * holds at most 32 inbound streams that have not agreed a protocol (the
 * rest are reset) and at most 16 KiB sent on them, past which it ends
 * (bounded-yamux.ts). The stranger is a libp2p node in the test process
 * that opens the streams on its own muxer and writes their bytes itself.
 *
 * What a peer still had on its way on a stream murmurd ended is none of
 * that: murmurd ends a pull that brings only ops it holds, mid-answer, and
 * up to a window (256 KiB) of the server's frames arrive after; they counted
 * as bytes on a stream with no protocol agreed, and the connection to an
 * honest member ended.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { Connection, Stream } from '@libp2p/interface'
import '../src/polyfill.js'
import { MAX_AGREEING_STREAMS, MAX_UNAGREED_BYTES } from '../src/bounded-yamux.js'
import type { Frame, Op } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, logged, rssMb, waitFor, type TestNode } from './harness.js'


/** A multistream-select message: its length, then the line. */
function line (text: string): Uint8Array {
  const bytes = Buffer.from(`${text}\n`)
  return Uint8Array.from([bytes.length, ...bytes])
}

const HEADER = line('/multistream/1.0.0')

/** A yamux stream opened on `connection`'s own muxer: no protocol is agreed for it, its bytes are the test's. */
async function rawStream (connection: Connection): Promise<Stream> {
  const muxer = (connection as unknown as { muxer: { createStream: () => Promise<Stream> | Stream } }).muxer
  return await muxer.createStream()
}

describe('a stranger that opens streams and agrees no protocol', () => {
  const cluster = new TestCluster()
  let victim: TestNode
  let stranger: Libp2p
  before(async () => {
    victim = await cluster.start('victim')
    await victim.put('kept', 'intact')
    stranger = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  })
  after(async () => {
    await stranger?.stop()
    await cluster.close()
  })

  it(`has murmurd hold at most ${MAX_AGREEING_STREAMS} of 600 streams that each send the start of a protocol's name, and the connection kept`, async () => {
    const pid = victim.process?.pid
    assert.ok(pid !== undefined)
    const connection = await stranger.dial(multiaddr(await victim.addr()))
    const before = rssMb(pid)
    // the header, then a name declared 100 bytes long of which 50 come: multistream-select waits for the rest
    const partial = Uint8Array.from([...HEADER, 100, ...new Uint8Array(50).fill(0x61)])
    const streams: Stream[] = []
    for (let i = 0; i < 600; i++) {
      const stream = await rawStream(connection)
      stream.send(partial)
      streams.push(stream)
    }
    const open = (): number => streams.filter(s => s.status === 'open').length
    await waitFor(() => open() <= MAX_AGREEING_STREAMS, `murmurd to reset all but ${MAX_AGREEING_STREAMS} streams`, 10_000, 100)
    const grown = rssMb(pid) - before
    console.log(`# 600 streams dawdling over their protocol: ${open()} held, the rest reset; murmurd's RSS grew ${grown.toFixed(1)} MB`)
    assert.equal(connection.status, 'open', 'the connection is kept: an honest peer may open more streams at once than are let in')
    for (const stream of streams) stream.abort(new Error('the stranger is done'))
    await connection.close()
    assert.equal(await victim.value('kept'), 'intact')
  })

  it(`has the connection ended once its streams send ${MAX_UNAGREED_BYTES / 1024} KiB before agreeing a protocol`, async () => {
    const pid = victim.process?.pid
    assert.ok(pid !== undefined)
    const connection = await stranger.dial(multiaddr(await victim.addr()))
    const before = rssMb(pid)
    // unknown names, one after another, in small frames: murmurd answers each "na" (an answer the stranger never reads)
    const names = new Uint8Array(4 * 1024)
    names.set(HEADER)
    for (let at = HEADER.length; at + 4 <= names.length; at += 4) names.set(line('/x'), at)
    const streams: Stream[] = []
    for (let i = 0; i < 64 && connection.status === 'open'; i++) {
      const stream = await rawStream(connection)
      stream.pause()
      for (let j = 0; j < 16; j++) stream.send(names)
      streams.push(stream)
    }
    await waitFor(() => connection.status !== 'open', 'murmurd to end the connection', 10_000, 100)
    console.log(`# streams sent unknown protocol names: the connection ended (the stranger had opened ${streams.length}); murmurd's RSS grew ${(rssMb(pid) - before).toFixed(1)} MB`)
    await logged(victim, /protocol was not agreed yet/, 'why it ended the connection')
    assert.equal((await victim.status()).name, 'victim', 'murmurd still answers')
    assert.equal(await victim.value('kept'), 'intact')
    assert.equal(victim.process?.exitCode, null)
  })

  it('keeps the connection to a member whose answer to a pull murmurd ended goes on arriving', async () => {
    const mallory = await Attacker.start()
    // the case before ended a stranger's connection on purpose: only what the log says from here on counts
    const logFrom = victim.stderr.length
    try {
      // an honest member's answer: 2,000 ops of 1 KB that the victim takes in the first pull, and that it holds in every later one
      const base = Date.now()
      const ops: Op[] = Array.from({ length: 2_000 }, (_, i) => mallory.op(`held/${i}`, 'x'.repeat(1024), { wall: base + i }, false))
      mallory.sign(ops)
      mallory.answer = function * (_puller, hello) {
        yield mallory.hello(hello)
        for (let i = 0; i < ops.length; i += 100) yield { kind: 'ops', ops: ops.slice(i, i + 100) } satisfies Frame
        yield { kind: 'control', message: { t: 'done' } }
      }
      await mallory.dial(await victim.addr())
      await mallory.pull(await victim.addr()) // its hello shows it a member: the victim's anti-entropy pulls from it
      await waitFor(async () => (await victim.status()).versionVector[mallory.id] === ops.length, 'the victim to take every op of mallory\'s', 30_000)
      const pulls = mallory.pulls.length
      await waitFor(() => mallory.pulls.length >= pulls + 2, 'the victim to pull from mallory twice more', 30_000, 100)
      await logged(victim, /the server was sending nothing this node lacks/, 'the victim to end a pull mid-answer')
      assert.doesNotMatch(victim.stderr.slice(logFrom), /broke a bound of its muxer/)
      const peer = (await victim.status()).id
      assert.ok(mallory.node.getConnections().some(c => c.remotePeer.toString() === peer && c.status === 'open'), 'mallory\'s connection is open')
    } finally {
      await mallory.stop()
    }
  })
})
