/**
 * A hostile member for tests against real daemons: a libp2p node in the test
 * process with an Ed25519 key of its own, that speaks gossipsub and murmur's
 * sync protocol and lies in both. It records every op it sees on the topic
 * (to replay them later), signs ops as itself, and answers each pull with
 * whatever frames the test sets for that puller.
 */
import '../src/polyfill.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { gossipsub, type GossipSub, type GossipsubOpts } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { tcp, type TCPSocketOptions } from '@libp2p/tcp'
import { byteStream, lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { DIGEST_BYTES, SYNC_PROTOCOL, SYNC_PROTOCOL_3_0, decodeFrame, decodeOps, encodeFrame, encodeOps, opDigest, proofPayload, proveOps, type Frame, type Hello, type Op, type VersionVector } from '@murmur/core'
import { createLibp2p, type Libp2p } from 'libp2p'
import { topicFor } from '../src/gossip.js'
import { batchSigner } from '../src/op-signing.js'
import { waitFor } from './harness.js'

/** What the attacker answers a pull with: the frames after (and including) its hello, at once or as it likes (an async generator). */
export type SyncAnswer = (puller: string, hello: Hello) => Iterable<Frame> | AsyncIterable<Frame>

/**
 * What the attacker answers a pull with instead of `answer`'s frames: bytes
 * written to the stream as they are after the puller's hello, so the test
 * writes each length prefix itself (`prefixed`), or gets it wrong.
 */
export type RawSyncAnswer = (puller: string, hello: Hello) => Iterable<Uint8Array> | AsyncIterable<Uint8Array>

/** `body` behind an unsigned varint length prefix, as sync frames are sent; `length` (by default the body's own) may lie. */
export function prefixed (body: Uint8Array, length = body.length): Uint8Array {
  const prefix: number[] = []
  for (; length >= 0x80; length = Math.floor(length / 0x80)) prefix.push((length % 0x80) | 0x80)
  prefix.push(length)
  return Uint8Array.from([...prefix, ...body])
}

/** A writer no peer runs (an Ed25519 key of its own): its origin, and what signs its batches for `group`. */
export async function freshWriter (group = 'default'): Promise<{ origin: string, sign: (payload: Uint8Array) => Uint8Array }> {
  const key = await generateKeyPair('Ed25519')
  return { origin: peerIdFromPrivateKey(key).toString(), sign: batchSigner(key, group) }
}

export class Attacker {
  readonly node: Libp2p<{ pubsub: GossipSub }>
  readonly topic: string
  /** Every op seen on the topic, in arrival order. */
  readonly captured: Op[] = []
  /** Pulls that reached it: the puller, its hello, the protocol it came over, and when. */
  readonly pulls: Array<{ puller: string, hello: Hello, protocol: string, at: number }> = []
  /** By default it claims to hold exactly what the puller holds (so the puller takes what it sends) and sends nothing. */
  answer: SyncAnswer = (_puller, hello) => [this.hello(hello), { kind: 'control', message: { t: 'done' } }]
  /** When set, pulls are answered with these raw bytes instead of `answer`'s frames. */
  rawAnswer?: RawSyncAnswer
  private readonly signer: (payload: Uint8Array) => Uint8Array
  private seq = 0

  private constructor (node: Libp2p<{ pubsub: GossipSub }>, signer: (payload: Uint8Array) => Uint8Array, group: string) {
    this.node = node
    this.signer = signer
    this.topic = topicFor(group)
  }

  /**
   * `protocols`: the sync protocols it serves (by default both; only 3.0.0 for a node from before the short hello).
   * `window`: the most its yamux streams let a sender have in flight (at least 256 KiB, yamux's first window).
   * `from`: an address in 127.0.0.0/8 its dials come from, for tests that start many: libp2p takes at most 5 new
   * connections a second from one host, and resets the rest.
   * `gossip`: gossipsub options over its own (mesh degrees, the most it reads in one RPC).
   */
  static async start (group = 'default', protocols = [SYNC_PROTOCOL, SYNC_PROTOCOL_3_0], { window, from, gossip }: { window?: number, from?: string, gossip?: Partial<GossipsubOpts> } = {}): Promise<Attacker> {
    const key = await generateKeyPair('Ed25519')
    const node = await createLibp2p({
      privateKey: key,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp(from !== undefined ? { dialOpts: { localAddress: from } as TCPSocketOptions } : {})],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux(window === undefined ? {} : { streamOptions: { maxStreamWindowSize: window } })],
      services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, globalSignaturePolicy: 'StrictNoSign', ...gossip }) }
    })
    const attacker = new Attacker(node, batchSigner(key, group), group)
    node.services.pubsub.addEventListener('message', event => {
      try {
        attacker.captured.push(...decodeOps(event.detail.data))
      } catch {}
    })
    for (const protocol of protocols) {
      await node.handle(protocol, async (stream, connection) => {
        const lp = lpStream(stream)
        const frame = decodeFrame((await lp.read()).subarray())
        if (frame.kind !== 'control' || frame.message.t !== 'hello') return
        const puller = connection.remotePeer.toString()
        attacker.pulls.push({ puller, hello: frame.message, protocol: stream.protocol, at: Date.now() })
        const raw = attacker.rawAnswer
        if (raw != null) {
          const bytes = byteStream(lp.unwrap())
          for await (const chunk of raw(puller, frame.message)) await bytes.write(chunk)
        } else {
          for await (const out of attacker.answer(puller, frame.message)) await lp.write(encodeFrame(out))
        }
        await stream.close()
      })
    }
    node.services.pubsub.subscribe(attacker.topic)
    await node.start()
    return attacker
  }

  /** A hello that claims the puller's own vector (or its digest, to a short hello): not behind it, so it takes whatever follows. */
  hello (puller: Hello, extra: Partial<Hello> = {}): Frame {
    return { kind: 'control', message: { t: 'hello', group: puller.group, name: 'mallory', now: Date.now(), vector: { ...puller.vector }, ...(puller.summary !== undefined ? { summary: puller.summary } : {}), ...extra } }
  }

  /** A hello offering a snapshot: it holds `vector`, and collected each origin's ops up to its floor (seq, wall, logical, accumulator). */
  snapshotHello (puller: Hello, vector: VersionVector, floors: NonNullable<Hello['floors']>): Frame {
    return { kind: 'control', message: { t: 'hello', group: puller.group, name: 'mallory', now: Date.now(), vector, snapshot: true, horizon: [0, 0], floors } }
  }

  get id (): string {
    return this.node.peerId.toString()
  }

  /** An op of its own, signed alone unless `sign` is false; `seq` defaults to its next. */
  op (key: string, value: string | null, extra: Partial<Op> = {}, sign = true): Op {
    const op: Op = { key, value: value === null ? null : Buffer.from(value), wall: Date.now(), logical: 0, origin: this.id, seq: extra.seq ?? ++this.seq, ...extra }
    if (sign) proveOps([op], this.signer)
    return op
  }

  /** Signs `ops` as one batch with its own key (whatever origin they claim). */
  sign (ops: Op[]): Op[] {
    proveOps(ops, this.signer)
    return ops
  }

  /**
   * Signs `op` alone in a proof that claims `covers` ops from its seq on: the
   * others' digests are made up (no such ops exist), and anyone it is sent
   * to takes them as given, 32 bytes each.
   */
  signPadded (op: Op, covers: number): Op {
    const digests = new Uint8Array(covers * DIGEST_BYTES).fill(op.seq & 0xff)
    digests.set(opDigest(op), 0)
    op.proof = { sig: this.signer(proofPayload(op.origin, op.seq, digests)), first: op.seq, digests }
    return op
  }

  async publish (ops: Op[]): Promise<void> {
    await this.node.services.pubsub.publish(this.topic, encodeOps(ops))
  }

  /**
   * Publishes `ops`, then waits until what it queued for `peer` is on its way: gossipsub drops the stream
   * to a peer whose write buffer overflows, so a flood published faster than the peer reads is mostly lost.
   */
  async publishPaced (ops: Op[], peer: string): Promise<void> {
    await this.publish(ops)
    // publish resolves in microtasks: the event loop must turn before the stream writes anything
    await new Promise(resolve => setImmediate(resolve))
    const streams = (this.node.services.pubsub as unknown as { streamsOutbound: Map<string, { rawStream: { writableNeedsDrain: boolean, onDrain: (options: { signal: AbortSignal }) => Promise<void> } }> }).streamsOutbound
    const stream = streams.get(peer)?.rawStream
    if (stream?.writableNeedsDrain === true) await stream.onDrain({ signal: AbortSignal.timeout(60_000) })
  }

  /** Publishes `bytes` as they are on the group's topic: whatever they are, gossipsub carries them to the node's validator. */
  async publishRaw (bytes: Uint8Array): Promise<void> {
    await this.node.services.pubsub.publish(this.topic, bytes)
  }

  /** Connects to the node at `addr` and waits until that node (not just any) subscribes to the topic here, so it hears what is published next. */
  async dial (addr: string): Promise<void> {
    const peer = (await this.node.dial(multiaddr(addr))).remotePeer
    await waitFor(() => this.node.services.pubsub.getSubscribers(this.topic).some(subscriber => subscriber.equals(peer)), 'the dialled node to join the attacker\'s topic mesh')
    // its subscription came on the node's stream to us; gossipsub drops (with a log line only) what it publishes to a
    // peer before its own stream there is open, and a test that published once then waited 15 s for nothing
    const outbound = (this.node.services.pubsub as unknown as { streamsOutbound: Map<string, unknown> }).streamsOutbound
    await waitFor(() => outbound.has(peer.toString()), 'the attacker\'s gossip stream to the dialled node to open')
  }

  /** Starts a pull from the node at `addr` with a hello that says it holds `vector` (and `extra`), takes the node's hello and hangs up. */
  async claim (addr: string, vector: VersionVector, group = 'default', extra: Partial<Hello> = {}): Promise<void> {
    const stream = await this.node.dialProtocol(multiaddr(addr), SYNC_PROTOCOL)
    const lp = lpStream(stream)
    await lp.write(encodeFrame({ kind: 'control', message: { t: 'hello', group, name: 'mallory', now: Date.now(), vector, ...extra } }))
    await lp.read()
    stream.abort(new Error('the attacker had what it came for'))
  }

  /** Pulls every op the node at `addr` serves to a puller that holds nothing, as an honest new member would; fails after `timeoutMs`. */
  async pull (addr: string, group = 'default', timeoutMs = 60_000): Promise<Op[]> {
    const signal = AbortSignal.timeout(timeoutMs)
    const stream = await this.node.dialProtocol(multiaddr(addr), SYNC_PROTOCOL, { signal })
    const lp = lpStream(stream)
    await lp.write(encodeFrame({ kind: 'control', message: { t: 'hello', group, name: 'mallory', now: Date.now(), vector: {} } }), { signal })
    const ops: Op[] = []
    for (;;) {
      const frame = decodeFrame((await lp.read({ signal })).subarray())
      if (frame.kind === 'control' && frame.message.t === 'done') break
      if (frame.kind !== 'control') ops.push(...frame.ops)
    }
    await stream.close()
    return ops
  }

  /**
   * Opens a sync stream to the node at `addr` as a puller, writes `chunks`
   * as they are (length prefixes are the test's: see `prefixed`) and closes
   * its side. Resolves to every byte the node wrote back and how its side
   * ended: closed, reset, or still open after `timeoutMs`.
   */
  async sendRaw (addr: string, chunks: Uint8Array[], timeoutMs = 5_000): Promise<{ answer: Uint8Array, ended: 'closed' | 'reset' | 'timeout' }> {
    const stream = await this.node.dialProtocol(multiaddr(addr), SYNC_PROTOCOL)
    const bytes = byteStream(stream)
    const answer: Uint8Array[] = []
    const signal = AbortSignal.timeout(timeoutMs)
    let ended: 'closed' | 'reset' | 'timeout' = 'closed'
    try {
      for (const chunk of chunks) await bytes.write(chunk, { signal })
      await stream.close({ signal })
      for (let read = await bytes.read({ signal }); read != null; read = await bytes.read({ signal })) answer.push(read.subarray())
    } catch {
      ended = signal.aborted ? 'timeout' : 'reset'
      stream.abort(new Error('the attacker is done'))
    }
    return { answer: Buffer.concat(answer), ended }
  }

  async hangUp (addr: string): Promise<void> {
    await this.node.hangUp(multiaddr(addr))
  }

  async stop (): Promise<void> {
    await this.node.stop()
  }
}
