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
 */
import { yamux, type YamuxMuxerInit } from '@chainsafe/libp2p-yamux'
import type { StreamMuxerFactory } from '@libp2p/interface'

/** yamux's frame header: version, type (0: data), flags (2 bytes), stream ID (4), length (4), big-endian. */
export const HEADER_BYTES = 12
const DATA = 0

/** The bytes a yamux decoder holds: a frame in progress, its header first. */
export interface Buffered { byteLength: number, subarray: (start: number, end: number) => Uint8Array }

/** The stream and declared length of the data frame `buffer` begins with, once its header is in; undefined for any other. */
export function dataFrameAt (buffer: Buffered): { stream: number, length: number } | undefined {
  if (buffer.byteLength < HEADER_BYTES) return undefined
  const header = buffer.subarray(0, HEADER_BYTES)
  const view = new DataView(header.buffer, header.byteOffset, HEADER_BYTES)
  return view.getUint8(1) === DATA ? { stream: view.getUint32(4), length: view.getUint32(8) } : undefined
}

export class OversizedFrameError extends Error {
  static override name = 'OversizedFrameError'
  override name = 'OversizedFrameError'
}

interface Decoder {
  buffer: Buffered
  readFrame: () => unknown
}

/** `yamux(init)`, whose muxers end a connection that declares a data frame of more than `maxData` bytes. */
export function boundedYamux (init: YamuxMuxerInit, maxData: number): () => StreamMuxerFactory {
  const make = yamux(init)
  return () => {
    const factory = make()
    const create = factory.createStreamMuxer.bind(factory)
    factory.createStreamMuxer = maConn => {
      const muxer = create(maConn)
      const decoder = (muxer as unknown as { decoder?: Decoder }).decoder
      // yamux's own decoder, as this knows it (yamux-frames.spec fails if an upgrade changes it)
      if (decoder != null && typeof decoder.readFrame === 'function' && decoder.buffer != null) bound(decoder, maxData)
      return muxer
    }
    return factory
  }
}

function bound (decoder: Decoder, maxData: number): void {
  const readFrame = decoder.readFrame.bind(decoder)
  decoder.readFrame = () => {
    const frame = dataFrameAt(decoder.buffer)
    // thrown from the muxer's data handler, this aborts the muxer and the connection
    if (frame !== undefined && frame.length > maxData) throw new OversizedFrameError(`a yamux data frame of ${frame.length} bytes, over the ${maxData}-byte window a stream is granted`)
    return readFrame()
  }
}
