/**
 * yamux with a bound on what one frame may make it hold.
 *
 * yamux's decoder reads a data frame's 12-byte header, then buffers as many
 * bytes as the header declares (up to 4 GiB) before it looks at the frame,
 * and only then refuses one over the stream's receive window. Any peer that
 * completes the noise handshake (a stranger, in an open group) could send one
 * header declaring 4 GiB and then stream bytes: a murmurd grew by ~340 MB for
 * 300 MiB sent, its connection still open, and would have grown until the
 * kernel killed it (`yamux-frames.spec.ts`). Here a data frame declaring more
 * than the window murmur grants a stream (`maxData`; yamux itself refuses
 * such a frame once it has it all) ends the connection as soon as its header
 * has arrived.
 *
 * Nor may a peer make a node hold streams whose protocol is not agreed yet.
 * libp2p gives an inbound stream 10 s to agree one (multistream-select), and
 * yamux took up to 1,000 inbound streams a connection, each granted a
 * 256 KiB window from its first frame: a stranger that opened 600 streams
 * and sent each a protocol name's first KiB grew a murmurd by ~60 KB a
 * stream, 30 MB a connection, for the 10 s and again (`stream-flood.spec.ts`).
 * An honest peer sends a new stream only the protocol's name until the node
 * answers it (libp2p 3 always negotiates in full), tens of bytes, and opens
 * a few at once. Here a connection may hold `MAX_AGREEING_STREAMS` inbound
 * streams that have not agreed a protocol (a new one past them is reset, as
 * yamux resets one past its own limit), `MAX_INBOUND_STREAMS` in all, and
 * what arrives on its inbound streams before they agree one may total
 * `MAX_UNAGREED_BYTES`, past which the connection ends.
 *
 * And a stream of a protocol given a bound (`maxStreamBytes`: the group's
 * DHT) may receive only that many bytes in all, past which the connection
 * ends. Kademlia decodes a whole answer before it looks at it (up to 4 MiB)
 * and takes every peer it names as discovered: one answer of 1.1 MB named
 * 20,000 made-up peers, and murmurd spent minutes of a core and ~340 MB on
 * them (`dht-peers.spec.ts`). An honest answer names at most 20.
 */
import { yamux, type YamuxMuxerInit } from '@chainsafe/libp2p-yamux'
import type { StreamMuxerFactory } from '@libp2p/interface'
import type { Logger } from 'pino'

/** yamux's frame header: version, type (0: data), flags (2 bytes), stream ID (4), length (4), big-endian. */
export const HEADER_BYTES = 12
const DATA = 0
/** The flag of a stream's first frame. */
const SYN = 1

/** The bytes a yamux decoder holds: a frame in progress, its header first. */
export interface Buffered { byteLength: number, subarray: (start: number, end: number) => Uint8Array }

/** The stream and declared length of the data frame `buffer` begins with (`opens`: it is the stream's first), once its header is in; undefined for any other. */
export function dataFrameAt (buffer: Buffered): { stream: number, length: number, opens: boolean } | undefined {
  if (buffer.byteLength < HEADER_BYTES) return undefined
  const header = buffer.subarray(0, HEADER_BYTES)
  const view = new DataView(header.buffer, header.byteOffset, HEADER_BYTES)
  return view.getUint8(1) === DATA ? { stream: view.getUint32(4), length: view.getUint32(8), opens: (view.getUint16(2) & SYN) !== 0 } : undefined
}

/**
 * Bytes a connection's inbound streams may receive, together, before their
 * protocol is agreed. An honest peer's are names of protocols, tens of bytes
 * a stream (libp2p 3 sends a stream's first message only once the name is
 * answered). Each unknown name costs an answer ("na"), and the answers a
 * peer does not read are held: 256 KiB of names held ~45 MB of a murmurd at
 * once, however few its streams.
 */
export const MAX_UNAGREED_BYTES = 16 * 1024

/**
 * Inbound streams a connection may hold at once (yamux's default is 1,000).
 * A member opens a few per protocol: sync at most 8 of each version, one of
 * gossip, identify, ping, DHT queries at most 32; and on a connection to a
 * relay, each relayed connection to this node is a stream (at most 256, a
 * node's `maxConnections`).
 */
export const MAX_INBOUND_STREAMS = 384

/**
 * Inbound streams a connection may hold that have not agreed a protocol yet: a
 * member opens a few at once (as its connection opens: identify, gossip, a
 * pull), and a relay may pass on a burst of relayed connections; one past
 * these is reset, and its opener may try again.
 */
export const MAX_AGREEING_STREAMS = 32

export class UnagreedBytesError extends Error {
  static override name = 'UnagreedBytesError'
  override name = 'UnagreedBytesError'
}

export class StreamBytesError extends Error {
  static override name = 'StreamBytesError'
  override name = 'StreamBytesError'
}

export class OversizedFrameError extends Error {
  static override name = 'OversizedFrameError'
  override name = 'OversizedFrameError'
}

interface Decoder {
  buffer: Buffered
  readFrame: () => unknown
}

/** A yamux stream as the muxer holds it (its `streams`): its ID, who opened it, and its protocol once agreed (empty before). */
interface MuxedStream { streamId?: unknown, direction?: unknown, protocol?: unknown }

/**
 * `yamux(init)`, whose muxers end a connection that declares a data frame of
 * more than `maxData` bytes, or sends more than `MAX_UNAGREED_BYTES` on inbound
 * streams whose protocol is not agreed yet, and hold at most
 * `MAX_INBOUND_STREAMS` inbound streams.
 */
export function boundedYamux (init: YamuxMuxerInit, maxData: number, log?: Logger, maxStreamBytes: ReadonlyMap<string, number> = new Map()): () => StreamMuxerFactory {
  const make = yamux({ maxInboundStreams: MAX_INBOUND_STREAMS, ...init })
  return () => {
    const factory = make()
    const create = factory.createStreamMuxer.bind(factory)
    factory.createStreamMuxer = maConn => {
      const muxer = create(maConn)
      const inner = muxer as unknown as Inner
      // yamux's own decoder, streams and stream opening, as this knows them (yamux-frames.spec and stream-flood.spec fail if an upgrade changes them)
      if (inner.decoder != null && typeof inner.decoder.readFrame === 'function' && inner.decoder.buffer != null && Array.isArray(inner.streams) && typeof inner.incomingStream === 'function' && typeof inner.sendFrame === 'function') {
        bound(inner.decoder, maxData, () => inner.streams ?? [], log, maxStreamBytes)
        boundAgreeing(inner)
      }
      return muxer
    }
    return factory
  }
}

/** The parts of yamux's muxer this reaches into. */
interface Inner {
  decoder?: Decoder
  streams?: MuxedStream[]
  /** Makes the stream a peer's SYN opens (or resets it, over yamux's own limit). */
  incomingStream?: (id: number) => void
  sendFrame?: (header: { type: number, flag: number, streamID: number, length: number }) => unknown
}

const WINDOW_UPDATE = 1
const RST = 8

const agreeing = (stream: MuxedStream): boolean => stream.direction === 'inbound' && stream.protocol === ''

/** Resets a new inbound stream while `MAX_AGREEING_STREAMS` of the connection's have not agreed a protocol. */
function boundAgreeing (inner: Inner): void {
  const incomingStream = inner.incomingStream?.bind(inner)
  const sendFrame = inner.sendFrame?.bind(inner)
  if (incomingStream == null || sendFrame == null) return
  inner.incomingStream = id => {
    const streams = inner.streams ?? []
    if (streams.some(s => s.streamId === id) || streams.filter(agreeing).length < MAX_AGREEING_STREAMS) {
      incomingStream(id)
      return
    }
    sendFrame({ type: WINDOW_UPDATE, flag: RST, streamID: id, length: 0 })
  }
}

function bound (decoder: Decoder, maxData: number, streams: () => MuxedStream[], log: Logger | undefined, maxStreamBytes: ReadonlyMap<string, number>): void {
  const readFrame = decoder.readFrame.bind(decoder)
  /** Bytes each stream of a bounded protocol received, by stream ID (pruned of streams gone as new ones come). */
  const received = new Map<number, number>()
  /** For a data frame of `length` bytes on `stream` (`id`), if its protocol is bounded: the stream's total with it, and the bound. */
  const boundedTotal = (stream: MuxedStream | undefined, id: number, length: number): { total: number, max: number, protocol: string } | undefined => {
    const protocol = typeof stream?.protocol === 'string' ? stream.protocol : ''
    const max = maxStreamBytes.get(protocol)
    if (max === undefined) return undefined
    if (!received.has(id) && received.size >= 64) {
      const live = new Set(streams().map(s => s.streamId))
      for (const known of received.keys()) if (!live.has(known)) received.delete(known)
    }
    return { total: (received.get(id) ?? 0) + length, max, protocol }
  }
  /** Bytes each inbound stream received before its protocol was agreed, by stream ID (kept while it is not). */
  const unagreed = new Map<number, number>()
  /**
   * Whether a data frame for stream `id` lands on an inbound stream with no
   * protocol yet: one the muxer holds, or one it opens (SYN). A frame for a
   * stream it does not hold and that does not open one is dropped unread:
   * the rest of what a peer was sending on a stream this node reset or ended
   * (a pull it aborts, mid-frame), which counted once and ended the
   * connection to an honest peer.
   */
  const unagreedStream = (stream: MuxedStream | undefined, opens: boolean): boolean => stream === undefined ? opens : agreeing(stream)
  /** What streams still agreeing hold (one pass over the streams: a peer's frames decide how often this runs). */
  const held = (): number => {
    let total = 0
    const kept = new Set<unknown>()
    for (const stream of streams()) {
      const bytes = agreeing(stream) ? unagreed.get(stream.streamId as number) : undefined
      if (bytes === undefined) continue
      total += bytes
      kept.add(stream.streamId)
    }
    for (const id of unagreed.keys()) if (!kept.has(id)) unagreed.delete(id)
    return total
  }
  // thrown from the muxer's data handler, these abort the muxer and the connection
  const refuse = (err: Error): never => {
    log?.warn({ err: err.message }, 'ended a connection whose peer broke a bound of its muxer')
    throw err
  }
  decoder.readFrame = () => {
    const at = dataFrameAt(decoder.buffer)
    if (at !== undefined && at.length > maxData) refuse(new OversizedFrameError(`a yamux data frame of ${at.length} bytes, over the ${maxData}-byte window a stream is granted`))
    // the frame's stream, looked up once (a pass over the connection's streams)
    const stream = at !== undefined && at.length > 0 ? streams().find(s => s.streamId === at.stream) : undefined
    const capped = at !== undefined && at.length > 0 ? boundedTotal(stream, at.stream, at.length) : undefined
    if (capped !== undefined && capped.total > capped.max) refuse(new StreamBytesError(`over ${capped.max} bytes on one ${capped.protocol} stream: an honest peer's messages on it are a few KiB`))
    const counted = at !== undefined && at.length > 0 && unagreedStream(stream, at.opens)
    if (counted && held() + at.length > MAX_UNAGREED_BYTES) refuse(new UnagreedBytesError(`over ${MAX_UNAGREED_BYTES} bytes on streams whose protocol was not agreed yet: a peer sends a stream only the protocol's name until it is answered`))
    const frame = readFrame()
    // the stream of a frame just read, if new, is made once the muxer handles it (after this returns), and kept in `unagreed` until agreed or gone
    if (frame !== undefined && counted) unagreed.set(at.stream, (unagreed.get(at.stream) ?? 0) + at.length)
    if (frame !== undefined && capped !== undefined) received.set((at as { stream: number }).stream, capped.total)
    return frame
  }
}
