/**
 * A hostile circuit relay for relay-tap.spec, run as its own process inside a
 * test's network namespace: libp2p with TCP, noise, yamux, identify and the
 * relay service (murmur's limits), nothing of murmur's. Its noise is tapped:
 * every byte it decrypts from a peer, and every byte it writes before
 * encrypting, is appended to a file, which is everything the relay can read,
 * relayed connections included. Sent SIGUSR1 it starts altering what it
 * relays: in each yamux data frame of at least ALTER_FROM bytes it writes (its
 * own protocols never send one that large; relayed ciphertext does) it flips
 * one bit, until SIGUSR2.
 *
 *   node tap-relay.js <listen multiaddr> <tap file>
 *
 * stdout: its full address (with /p2p/), then one line `altered <n>` each
 * time it changes a frame, and `unparsed` if a connection's plaintext stops
 * looking like yamux (it then alters nothing on that connection).
 */
import '../src/polyfill.js'
import { appendFileSync } from 'node:fs'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import type { ConnectionEncrypter, MessageStream, SecuredConnection } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { RELAY_SERVER_LIMITS } from '../src/relay.js'

/** Data frames at least this large are altered; identify, ping and the relay's own messages stay well below. */
const ALTER_FROM = 8192
const YAMUX_HEADER = 12
const YAMUX_DATA = 0
const YAMUX_TYPES = 4

const [listen, tapFile] = process.argv.slice(2)
if (listen == null || tapFile == null) {
  process.stderr.write('usage: tap-relay.js <listen multiaddr> <tap file>\n')
  process.exit(2)
}
let altering = false
let altered = 0

/** Follows the yamux frames one connection's muxer writes, chunk by chunk, so a frame's payload can be told from its header. */
class FrameWalker {
  private readonly header = new Uint8Array(YAMUX_HEADER)
  private have = 0
  private length = 0
  private left = 0
  private lost = false

  /** Walks `bytes` (the next the muxer writes); flips the middle bit of each large data frame's payload when `alter`. */
  walk (bytes: Uint8Array, alter: boolean): void {
    let at = 0
    while (at < bytes.length && !this.lost) {
      if (this.left > 0) {
        const n = Math.min(this.left, bytes.length - at)
        const start = this.length - this.left
        const middle = this.length >> 1
        if (alter && this.length >= ALTER_FROM && middle >= start && middle < start + n) {
          bytes[at + middle - start] = (bytes[at + middle - start] as number) ^ 0x10
          altered++
          process.stdout.write(`altered ${altered}\n`)
        }
        this.left -= n
        at += n
        continue
      }
      const n = Math.min(YAMUX_HEADER - this.have, bytes.length - at)
      this.header.set(bytes.subarray(at, at + n), this.have)
      this.have += n
      at += n
      if (this.have < YAMUX_HEADER) break
      this.have = 0
      const view = new DataView(this.header.buffer)
      if (view.getUint8(0) !== 0 || view.getUint8(1) >= YAMUX_TYPES) {
        this.lost = true
        process.stdout.write('unparsed\n')
        break
      }
      if (view.getUint8(1) === YAMUX_DATA) {
        this.length = view.getUint32(8)
        this.left = this.length
      }
    }
  }
}

/** noise's encrypted stream, with the two methods its reads and writes go through (checked, so a change in noise fails the test loudly). */
interface Tappable extends MessageStream {
  encrypt: (chunk: Uint8Array | Uint8ArrayList) => Uint8ArrayList
  decrypt: (chunk: Uint8Array | Uint8ArrayList) => Uint8ArrayList
}

function tap (secured: SecuredConnection): SecuredConnection {
  const stream = secured.connection as Tappable
  if (typeof stream.encrypt !== 'function' || typeof stream.decrypt !== 'function') {
    throw new Error('tap-relay: noise\'s stream no longer has encrypt/decrypt methods to tap')
  }
  const encrypt = stream.encrypt.bind(stream)
  const decrypt = stream.decrypt.bind(stream)
  const frames = new FrameWalker()
  stream.decrypt = chunk => {
    const plain = decrypt(chunk)
    appendFileSync(tapFile as string, plain.subarray())
    return plain
  }
  stream.encrypt = chunk => {
    const plain = Uint8Array.from(chunk instanceof Uint8Array ? chunk : chunk.subarray())
    appendFileSync(tapFile as string, plain)
    frames.walk(plain, altering)
    return encrypt(plain)
  }
  return secured
}

/** noise, with every connection it secures tapped. */
function tappedNoise (components: any): ConnectionEncrypter {
  const inner = noise()(components)
  const wrapped: ConnectionEncrypter = Object.create(inner)
  wrapped.secureInbound = async (connection, options) => tap(await inner.secureInbound(connection, options))
  wrapped.secureOutbound = async (connection, options) => tap(await inner.secureOutbound(connection, options))
  return wrapped
}

const node = await createLibp2p({
  addresses: { listen: [listen] },
  transports: [tcp()],
  connectionEncrypters: [tappedNoise],
  streamMuxers: [yamux()],
  services: { identify: identify(), relay: circuitRelayServer(RELAY_SERVER_LIMITS) }
})
process.on('SIGUSR1', () => { altering = true })
process.on('SIGUSR2', () => { altering = false })
process.once('SIGTERM', () => { void Promise.resolve(node.stop()).finally(() => process.exit(0)) })
process.stdout.write(`${node.getMultiaddrs()[0]?.toString() ?? ''}\n`)
