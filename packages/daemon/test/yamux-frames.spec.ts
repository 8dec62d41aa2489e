/**
 * A stranger that declares a huge yamux data frame (README, Security): any
 * peer that completes the noise handshake reaches murmurd's muxer, member or
 * not. yamux buffered whatever a frame's header declared (up to 4 GiB) before
 * it looked at the frame: one header and 300 MiB of bytes grew a murmurd by
 * ~340 MB, its connection still open. A frame declaring more than the window
 * a stream is granted now ends the connection once its header is in
 * (bounded-yamux.ts). The stranger here is a libp2p node in the test process
 * that writes the frame itself, straight onto its muxer's connection.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import '../src/polyfill.js'
import { TestCluster, rssMb, waitFor } from './harness.js'

/** What the stranger sends after the header, at most. */
const SEND_MIB = 100


/** A yamux data frame header (version 0, type 0, no flags) for `stream`, declaring `length` bytes. */
function dataHeader (stream: number, length: number): Uint8Array {
  const header = new Uint8Array(12)
  const view = new DataView(header.buffer)
  view.setUint32(4, stream)
  view.setUint32(8, length)
  return header
}

describe('a stranger that declares a yamux data frame of 4 GiB', () => {
  const cluster = new TestCluster()
  let stranger: Libp2p | undefined
  after(async () => {
    await stranger?.stop()
    await cluster.close()
  })

  it('has its connection ended at the header, and murmurd holds none of what follows', async () => {
    const victim = await cluster.start('victim')
    const pid = victim.process?.pid
    assert.ok(pid !== undefined)
    await victim.put('kept', 'intact')
    stranger = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() } })
    const connection = await stranger.dial(multiaddr(await victim.addr()))
    const muxer = (connection as unknown as { muxer: { send: (bytes: Uint8Array) => boolean } }).muxer
    const before = rssMb(pid)
    muxer.send(dataHeader(1001, 0xFFFF_FFF0))
    const chunk = new Uint8Array(1024 * 1024)
    let sent = 0
    for (; sent < SEND_MIB && connection.status === 'open'; sent++) {
      try {
        if (!muxer.send(chunk)) await new Promise(resolve => setTimeout(resolve, 5))
      } catch {
        break
      }
    }
    await waitFor(() => connection.status !== 'open', 'murmurd to end the connection', 10_000)
    const grown = rssMb(pid) - before
    console.log(`# the stranger sent ${sent} MiB before its connection ended; murmurd's RSS grew ${grown.toFixed(1)} MB`)
    assert.ok(grown < 40, `murmurd grew ${grown.toFixed(1)} MB while the stranger sent ${sent} MiB of one frame`)
    assert.equal((await victim.status()).name, 'victim', 'murmurd still answers')
    assert.equal(await victim.value('kept'), 'intact')
    assert.equal(victim.process?.exitCode, null)
  })
})
