/**
 * Sync frames between two real libp2p nodes (TCP, noise, yamux with murmur's
 * stream options but a window of 2 MiB) when the reader is slower than the writer: every frame
 * arrives, in order, where libp2p's own length-prefixed reader gives up.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, test } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { createLibp2p, type Libp2p } from 'libp2p'
import '../src/polyfill.js'
import { STREAM_OPTIONS, framed } from '../src/sync/framed.js'

const PROTOCOL = '/murmur-test/framed/1'
const FRAME = 1024 * 1024
const FRAMES = 40

let writer: Libp2p
let reader: Libp2p

async function node (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    // a window 8× murmur's: the sender outruns a slow reader by far, where the reader's pause is what keeps the stream
    // (with murmur's 256 KiB the window's own round trips through the busy reader hold the sender back as well)
    streamMuxers: [yamux({ streamOptions: { ...STREAM_OPTIONS, maxStreamWindowSize: 8 * STREAM_OPTIONS.maxStreamWindowSize } })]
  })
}

before(async () => {
  writer = await node()
  reader = await node()
  // the writer sends FRAMES frames of 1 MiB as fast as its stream takes them, each starting with its number
  await writer.handle(PROTOCOL, async stream => {
    const out = framed(stream, FRAME + 64)
    for (let i = 0; i < FRAMES; i++) {
      const frame = new Uint8Array(FRAME).fill(i % 251)
      new DataView(frame.buffer).setUint32(0, i)
      await out.write(frame, {})
    }
    await stream.close()
  })
})

after(async () => {
  await reader?.stop()
  await writer?.stop()
})

/** A reader that holds the event loop 40 ms after each frame (a commit on a loaded machine) and then waits 10 ms. */
async function slowly (read: () => Promise<Uint8Array>): Promise<number[]> {
  const got: number[] = []
  for (let i = 0; i < FRAMES; i++) {
    const frame = await read()
    assert.equal(frame.byteLength, FRAME)
    got.push(new DataView(frame.buffer, frame.byteOffset).getUint32(0))
    assert.equal(frame[FRAME - 1], i % 251, `frame ${i} arrived whole`)
    const until = performance.now() + 40
    while (performance.now() < until) { /* busy, as a long transaction is */ }
    await sleep(10)
  }
  return got
}

test('a slow reader receives every frame, in order: the stream pauses instead of overflowing', async () => {
  const stream = await reader.dialProtocol(writer.getMultiaddrs(), PROTOCOL)
  const input = framed(stream, FRAME + 64)
  const got = await slowly(async () => await input.read({ signal: AbortSignal.timeout(30_000) }))
  assert.deepEqual(got, [...Array(FRAMES).keys()])
})

test('without the pause, the same slow reader loses the stream (what framed() is for)', async () => {
  const stream = await reader.dialProtocol(writer.getMultiaddrs(), PROTOCOL)
  const lp = lpStream(stream, { maxDataLength: FRAME + 64 })
  await assert.rejects(slowly(async () => (await lp.read({ signal: AbortSignal.timeout(30_000) })).subarray()), /overflow|exceeded/i)
})
