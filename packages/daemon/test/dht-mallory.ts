/**
 * Mallory for the group's DHT: a libp2p node that speaks murmur's Kademlia
 * protocol by hand, answering a PING as Kademlia does and every FIND_NODE
 * with `count` made-up peers (each at 127.0.0.1:9, where nothing listens).
 * Protobuf by hand, so the test does not reach into kad-dht's internals.
 */
import { createHash, randomBytes } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import '../src/polyfill.js'


function varint (n: number): number[] {
  const out: number[] = []
  for (; n >= 0x80; n >>>= 7) out.push((n & 0x7f) | 0x80)
  out.push(n)
  return out
}

function field (tag: number, bytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(varint(tag)), Buffer.from(varint(bytes.length)), bytes])
}

/** The fields of a Kademlia message mallory reads: its type (field 1) and key (field 2). */
function readMessage (bytes: Uint8Array): { type: number, key: Uint8Array } {
  let type = 0
  let key: Uint8Array = new Uint8Array(0)
  for (let i = 0; i < bytes.length;) {
    let tag = 0
    for (let shift = 0; ; shift += 7) { const b = bytes[i++] as number; tag |= (b & 0x7f) << shift; if (b < 0x80) break }
    const wire = tag & 7
    let n = 0
    for (let shift = 0; wire === 0 || wire === 2; shift += 7) { const b = bytes[i++] as number; n += (b & 0x7f) * 2 ** shift; if (b < 0x80) break }
    if (wire === 2) {
      if (tag >>> 3 === 2) key = bytes.subarray(i, i + n)
      i += n
    } else if (wire === 0) {
      if (tag >>> 3 === 1) type = n
    } else throw new Error(`wire type ${wire} not expected`)
  }
  return { type, key }
}

const PING = 5
const FIND_NODE = 4
/** /ip4/127.0.0.1/tcp/9 as multiaddr bytes. */
const NOWHERE = multiaddr('/ip4/127.0.0.1/tcp/9').bytes

/** A FIND_NODE answer naming `count` made-up peers (sha256 multihashes: peer ids with no key). */
function fakeAnswer (key: Uint8Array, count: number): Buffer {
  const peers: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const id = Buffer.concat([Buffer.from([0x12, 0x20]), randomBytes(32)])
    peers.push(field(66, Buffer.concat([field(10, id), field(18, NOWHERE)])))
  }
  return Buffer.concat([Buffer.from([8, FIND_NODE]), field(18, key), ...peers])
}

/** Mallory in `group`'s DHT, answering each FIND_NODE with `count` made-up peers; `answers` counts those answers. */
export async function dhtMallory (count: number, group = 'default'): Promise<{ node: Libp2p, answers: () => number }> {
  const tag = createHash('sha256').update(group).digest('hex').slice(0, 16)
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() }
  })
  let answers = 0
  await node.handle(`/murmur/${tag}/kad/1.0.0`, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 8 * 1024 * 1024 })
    try {
      for (;;) {
        const message = (await lp.read()).subarray()
        const { type, key } = readMessage(message)
        if (type === PING) await lp.write(message)
        else if (type === FIND_NODE) { answers++; await lp.write(fakeAnswer(key, count)) } else await lp.write(Buffer.from([8, type]))
      }
    } catch {
      stream.abort(new Error('mallory is done'))
    }
  }, { runOnLimitedConnection: false })
  return { node, answers: () => answers }
}

