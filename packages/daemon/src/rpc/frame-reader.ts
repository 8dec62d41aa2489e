/**
 * Reads one connection's requests: lines split from the byte stream, each
 * frame bounded in size and in the time it may take to arrive whole (so a
 * slowloris client cannot hold a connection open with a frame it never ends).
 */
import type { Socket } from 'node:net'
import { FrameTooLargeError, LineDecoder } from '@murmur/protocol'

export interface FrameReaderInit {
  maxFrameBytes: number
  frameTimeoutMs: number
}

export interface FrameReaderEvents {
  /** The server is closing the connection: what the client still sends is discarded. */
  closing: () => boolean
  /** Whole lines, in the order they came. */
  lines: (lines: string[]) => void
  /** A frame broke a limit: the connection is to be refused with this error. */
  refuse: (name: string, message: string, fields?: Record<string, unknown>) => void
  /** The client half-closed, after sending `last` without a newline (if anything). */
  end: (last: string | undefined) => void
}

export function readFrames (socket: Socket, init: FrameReaderInit, events: FrameReaderEvents): void {
  const decoder = new LineDecoder(init.maxFrameBytes)
  let deadline: NodeJS.Timeout | undefined
  socket.on('data', chunk => {
    if (events.closing()) return // draining what a refused client still sends
    let lines: string[]
    try {
      lines = decoder.push(chunk)
    } catch (err) {
      if (!(err instanceof FrameTooLargeError)) throw err
      // the whole requests sent before the oversized frame are answered before it is refused
      events.lines(err.lines)
      events.refuse('FrameTooLargeError', err.message)
      return
    }
    // the deadline runs from the first byte of each frame
    if (lines.length > 0 || decoder.pending === 0) {
      clearTimeout(deadline)
      deadline = undefined
    }
    if (decoder.pending > 0) {
      deadline ??= setTimeout(() => {
        events.refuse('FrameTimeoutError', `frame not completed within ${init.frameTimeoutMs} ms; send each message as one line ending in \\n`, { pending: decoder.pending })
      }, init.frameTimeoutMs)
    }
    events.lines(lines)
  })
  socket.on('end', () => {
    if (events.closing()) return
    clearTimeout(deadline)
    events.end(decoder.end())
  })
  socket.on('close', () => { clearTimeout(deadline) })
}
