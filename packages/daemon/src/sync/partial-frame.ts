/**
 * How much of a yamux data frame for a stream has arrived and waits in the
 * muxer, not yet handed to the stream.
 *
 * yamux sends a stream's data in frames as large as the window allows (up to
 * 256 KiB, `MAX_STREAM_WINDOW`) and hands a frame to its stream only once the
 * whole of it has arrived. Over a link slower than ~13 KB/s one such frame
 * takes longer than the stall wait (20 s), so a puller saw nothing arrive on
 * its stream while the frame's bytes streamed in, and gave up on a serve
 * that was going at the link's rate: a catch-up over 8 KB/s lost its first
 * pull each time. The bytes of a frame in progress are there to read in the
 * muxer's decoder (libp2p keeps the muxer on the connection, outside its
 * public type; yamux's decoder holds the frame's 12-byte header, then its
 * data so far; bounded-yamux.ts reads the header). Noise hands the muxer what it decrypts in messages of up to
 * 64 KiB, so at 8 KB/s the count moves every 8 s or so.
 */
import type { Connection, Stream } from '@libp2p/interface'
import { HEADER_BYTES, dataFrameAt, type Buffered } from '../bounded-yamux.js'

/**
 * A count of `stream`'s bytes that have arrived in a data frame not yet
 * whole, read when called; undefined when `connection`'s muxer is not one
 * whose decoder this knows (or `stream` is not one of its streams).
 */
export function partialFrameOf (connection: Connection | undefined, stream: Stream): (() => number) | undefined {
  const decoder = (connection as unknown as { muxer?: { decoder?: { buffer?: Buffered } } } | undefined)?.muxer?.decoder
  const id = (stream as unknown as { streamId?: unknown }).streamId
  if (decoder?.buffer == null || typeof id !== 'number') return undefined
  return () => {
    const buffer = decoder.buffer
    return buffer != null && dataFrameAt(buffer)?.stream === id ? buffer.byteLength - HEADER_BYTES : 0
  }
}
