/**
 * Length-prefixed sync frames over a libp2p stream, with backpressure on the
 * reading side and a bounded hold on the event loop on both.
 *
 * libp2p's `lpStream` takes every byte the muxer delivers into its own buffer
 * and fails the stream once that passes 4 MiB, and yamux grants the sender
 * more window as soon as bytes arrive, not as they are read. A reader slower
 * than its sender (a node applying a catch-up on a loaded machine) then loses
 * the whole pull. Here the reader pauses the stream (yamux stops granting
 * window) while more than two frames wait unread, and resumes once less than
 * one does; the muxer's window (`MAX_STREAM_WINDOW`) bounds what still
 * arrives meanwhile.
 *
 * On the writing side, a frame is made only once the muxer has taken the
 * last (`idle`), so a serve whose puller stops reading holds one frame, not
 * every frame of the store, and fails once its peer takes less than
 * `TAKE_FLOOR_BYTES` of it in `STALL_MS` (take-floor.ts): a puller that
 * takes a few bytes every few seconds is never idle, and would hold the
 * serve (a slot, a page and a frame) to the pull's deadline, while a slow
 * link goes on. A read fails once nothing has arrived for `STALL_MS` (in a
 * whole muxer frame or one still coming: `partial`), and,
 * given `withinMs` (a serve's hello), once its frame has not come whole that
 * long after its first byte. Given `connectionRead` (a serve's hello too),
 * bytes arriving on the connection keep a read whose frame has not begun from
 * stalling: the peer's frame may wait at the peer behind what it sends on
 * its other streams (a puller serving this node a catch-up over a slow link:
 * its hello queued behind ~256 KiB of pages took over 20 s at 8 KB/s). A
 * puller waiting for the server's hello counts its own bytes acknowledged
 * too: its hello may wait at this end behind the pages it serves that peer.
 *
 * A stream's reads and writes resolve at once while data is buffered, so a
 * long sync would otherwise run frame after frame as one event-loop turn
 * (seconds under load: pings time out, connections drop, puts and RPCs
 * wait). Both sides let the loop turn between frames once they have held it
 * for `TURN_MS`.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import { lpStream } from '@libp2p/utils'
import type { AbortOptions, Stream } from '@libp2p/interface'
import { CHECK_MS, STALL_MS, TakeFloor } from './take-floor.js'

export { STALL_MS } from './take-floor.js'

/**
 * The most a yamux stream lets its sender have in flight (libp2p-node.ts):
 * what may still arrive after a pause, and what sits queued ahead of
 * everything else on the connection. yamux's first window, kept: at 2 MiB
 * (yamux grows a window to its maximum when the peer reads fast for the
 * round trip, and a queue on a slow link makes the round trip long) a node
 * catching up over a 20 KB/s link had ~100 s of pages queued ahead of its
 * pings, gossip and next pulls (slow-link.spec). 256 KiB in flight still
 * carries ~25 MB/s at a 10 ms round trip, and on loopback the reader, not the
 * window, sets the pace.
 */
export const MAX_STREAM_WINDOW = 256 * 1024

/**
 * What a stream may hold unread (libp2p-node.ts; libp2p's default is 4 MiB):
 * a pause takes effect only once the stream hands its buffer on (a timer
 * after the bytes arrived), so a paused stream can hold a few windows.
 */
export const MAX_STREAM_BUFFER = 16 * 1024 * 1024

/** Options for every yamux stream of a murmur node (libp2p-node.ts). */
export const STREAM_OPTIONS = { maxStreamWindowSize: MAX_STREAM_WINDOW, maxReadBufferLength: MAX_STREAM_BUFFER }

export class SyncStalledError extends Error {
  static override name = 'SyncStalledError'
  override name = 'SyncStalledError'
}

/**
 * What a connection must bring per second, besides a hello that has not begun,
 * to count as its peer sending on other streams (`ReadOptions.connectionRead`):
 * a peer sending pages brings KiB a second even over 8 KB/s, while what any
 * live connection brings (pongs to this node's pings, a window update, a
 * gossip heartbeat) is tens of bytes every few seconds, and must not keep
 * a silent stream open.
 */
const BUSY_BYTES_PER_S = 512

/** How long sync keeps the event loop before letting it turn. */
const TURN_MS = 20

export interface ReadOptions extends AbortOptions {
  /** The frame must come whole within this long of its first byte, however its bytes trickle (a serve's hello). @default Infinity */
  withinMs?: number
  /**
   * The bytes moved so far on the stream's connection (its socket's count of
   * bytes read; a puller's, and of its own bytes acknowledged), or undefined:
   * while none of the frame has come, their growth is news from the peer
   * too. Only where waiting costs little: a serve's hello (nothing is held
   * for it but the stream, and a connection has at most a few) and a
   * server's (a pull that waits holds its slot at most for its deadline, as
   * one trickling a byte every few seconds would).
   */
  connectionRead?: () => number | undefined
}

export interface FramedStream {
  read(options: ReadOptions): Promise<Uint8Array>
  write(frame: Uint8Array, options: AbortOptions): Promise<void>
}

/**
 * Frames of at most `maxFrameBytes` over `stream`, whose peer fails it once it stalls for `stallMs`.
 * `partial` counts the stream's bytes that arrived in a muxer frame not yet whole (partial-frame.ts):
 * their growth is news from the peer too.
 */
export function framed (stream: Stream, maxFrameBytes: number, stallMs = STALL_MS, partial?: () => number): FramedStream {
  // a whole frame (with its length prefix) always fits below `low`, so a paused reader always has one to read
  const low = maxFrameBytes + 16
  const high = 2 * low
  let unread = 0
  let arrived = performance.now()
  let partly = 0
  /** When the first byte since the read began arrived (undefined: none yet). */
  let first: number | undefined
  /** When a byte last arrived: in a message, or in a muxer frame still coming (sampled when asked). */
  const arrivedAt = (): number => {
    const now = partial?.() ?? 0
    if (now > partly) {
      arrived = performance.now()
      first ??= arrived
    }
    partly = now
    return arrived
  }
  stream.addEventListener('message', evt => {
    arrived = performance.now()
    first ??= arrived
    unread += evt.data.byteLength
    if (unread > high && stream.readStatus === 'readable') stream.pause()
  })
  const lp = lpStream(stream, { maxDataLength: maxFrameBytes, maxBufferSize: high + MAX_STREAM_BUFFER })
  let heldSince = performance.now()
  const letLoopTurn = async (): Promise<void> => {
    if (performance.now() - heldSince < TURN_MS) return
    await nextTurn()
    heldSince = performance.now()
  }
  return {
    async read (options) {
      await letLoopTurn()
      arrivedAt() // what a frame in progress holds now is no news later
      // bytes already here (of this frame: a read takes whole frames) are its first
      first = unread > 0 || partly > 0 ? performance.now() : undefined
      const frame = await untilStalled({ stallMs, arrived: arrivedAt, first: () => first, withinMs: options.withinMs, connectionRead: options.connectionRead }, async signal => await lp.read({ signal: options.signal == null ? signal : AbortSignal.any([options.signal, signal]) }))
      unread -= frame.byteLength + lengthOfPrefix(frame.byteLength)
      if (unread < low && stream.readStatus === 'paused') stream.resume()
      return frame.subarray()
    },
    async write (frame, options) {
      // what this write offers: the frame, its prefix, and anything the last left queued
      const offered = stream.writeBufferLength + frame.byteLength + lengthOfPrefix(frame.byteLength)
      const floor = new TakeFloor(offered, stallMs)
      const slow = new AbortController()
      const watch = setInterval(() => {
        const recent = floor.check(offered - stream.writeBufferLength)
        if (recent !== undefined) slow.abort(new SyncStalledError(`the peer took ${Math.floor(recent / 1024)} KiB of this sync stream in ${stallMs / 1000} s (${Math.ceil(stream.writeBufferLength / 1024)} KiB of a ${Math.ceil(frame.byteLength / 1024)} KiB frame still waiting): a peer must take at least ${Math.ceil(floor.floorBytes / 1024)} KiB every ${stallMs / 1000} s`))
      }, Math.min(CHECK_MS, stallMs / 10))
      const signal = options.signal == null ? slow.signal : AbortSignal.any([options.signal, slow.signal])
      try {
        await lp.write(frame, { signal })
        await idle(stream, signal)
      } catch (err) {
        if (!slow.signal.aborted) throw err
      } finally {
        clearInterval(watch)
      }
      options.signal?.throwIfAborted()
      if (slow.signal.aborted) throw slow.signal.reason
      await letLoopTurn()
    }
  }
}

interface Stall {
  stallMs: number
  /** When a byte of the stream last arrived (reading it samples what a frame still coming holds). */
  arrived: () => number
  /** When the first byte since the read began arrived, or undefined. */
  first: () => number | undefined
  withinMs?: number
  connectionRead?: () => number | undefined
}

/**
 * `read(signal)`, whose `signal` aborts once no byte has arrived (`arrived()`,
 * the last time one did; before the first, on the connection too, given
 * `connectionRead`) for `stallMs` since the read began, or once `withinMs`
 * have passed since its first byte.
 */
async function untilStalled<T> (stall: Stall, read: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { stallMs, withinMs = Infinity, connectionRead } = stall
  const began = performance.now()
  const stalled = new AbortController()
  let connectionBytes = connectionRead?.()
  let connectionAt = began
  /** When `connectionBytes` was taken: growth is judged over the time since (a few slow samples add up). */
  let connectionSampled = began
  // the first byte and the connection's count are sampled: often enough that neither rule runs much over
  const sampleMs = withinMs < Infinity || connectionRead != null ? stallMs / 4 : Infinity
  let timer: ReturnType<typeof setTimeout> | undefined
  const check = (): void => {
    const now = performance.now()
    const arrived = stall.arrived()
    const first = stall.first()
    if (first === undefined && connectionRead != null) {
      const bytes = connectionRead()
      if (bytes === undefined || connectionBytes === undefined) connectionBytes = bytes
      else if (bytes - connectionBytes >= BUSY_BYTES_PER_S * (now - connectionSampled) / 1000) {
        connectionAt = now
        connectionBytes = bytes
        connectionSampled = now
      }
    }
    const quiet = now - Math.max(began, arrived, first === undefined ? connectionAt : -Infinity)
    if (quiet >= stallMs) stalled.abort(new SyncStalledError(`the peer sent nothing on this sync stream for ${stallMs / 1000} s${first === undefined && connectionRead != null ? ', nor more than a trickle on its connection' : ''}`))
    else if (first !== undefined && now - first >= withinMs) stalled.abort(new SyncStalledError(`the peer had not sent a whole frame on this sync stream ${withinMs / 1000} s after its first byte: it must come within that, however its bytes trickle`))
    else timer = setTimeout(check, Math.min(stallMs - quiet, first === undefined ? Infinity : withinMs - (now - first), sampleMs))
  }
  timer = setTimeout(check, Math.min(stallMs, sampleMs))
  try {
    return await read(stalled.signal)
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Resolves once `stream` has nothing left to send (the muxer has taken it
 * all), it closes, or `signal` aborts: a sender then makes a frame only once
 * its peer has room for it (what `lp.write` waits for is the connection's
 * drain, which comes to every stream of the connection, and a peer that
 * stops reading would have every frame of a serve queued here).
 */
async function idle (stream: Stream, signal: AbortSignal): Promise<void> {
  if (stream.writeBufferLength === 0 || stream.status !== 'open' || signal.aborted) return
  await new Promise<void>(resolve => {
    const done = (): void => {
      stream.removeEventListener('idle', done)
      stream.removeEventListener('close', done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    stream.addEventListener('idle', done)
    stream.addEventListener('close', done)
    signal.addEventListener('abort', done)
  })
}

/** Bytes of the unsigned varint that prefixes a frame of `length` bytes. */
function lengthOfPrefix (length: number): number {
  let bytes = 1
  while (length >= 0x80) {
    length = Math.floor(length / 0x80)
    bytes++
  }
  return bytes
}
