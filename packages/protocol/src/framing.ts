/**
 * Newline-delimited JSON framing: one JSON-RPC message (or batch) per line.
 */
import { DEFAULT_MAX_FRAME_BYTES, MAX_JSON_DEPTH } from './limits.js'

const NEWLINE = 0x0a

export class FrameTooLargeError extends Error {
  static override name = 'FrameTooLargeError'
  override name = 'FrameTooLargeError'
  /** The whole lines that came before the oversized one in the same chunk: they are requests to answer before refusing it. */
  lines: string[] = []
}

export class JsonTooDeepError extends Error {
  static override name = 'JsonTooDeepError'
  override name = 'JsonTooDeepError'
}

/**
 * Splits a byte stream into lines. Bytes are buffered until a newline arrives,
 * so a multi-byte UTF-8 character split across chunks decodes correctly. A line
 * longer than `maxFrameBytes` throws `FrameTooLargeError` before it is buffered
 * in full; the error carries the whole lines the same chunk held before it.
 */
export class LineDecoder {
  private readonly maxFrameBytes: number
  private chunks: Buffer[] = []
  private buffered = 0

  constructor (maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes
  }

  /** Bytes held that do not yet form a whole line. */
  get pending (): number {
    return this.buffered
  }

  push (chunk: Buffer): string[] {
    const lines: string[] = []
    try {
      this.split(chunk, lines)
    } catch (err) {
      if (err instanceof FrameTooLargeError) err.lines = lines
      throw err
    }
    return lines
  }

  private split (chunk: Buffer, lines: string[]): void {
    let start = 0
    let end = chunk.indexOf(NEWLINE, start)
    while (end !== -1) {
      if (this.buffered === 0 && end - start <= this.maxFrameBytes) {
        // the whole line is in this chunk: decode it in place, no copy
        lines.push(withoutCr(chunk.toString('utf8', start, end)))
      } else {
        this.append(chunk.subarray(start, end))
        lines.push(this.take())
      }
      start = end + 1
      end = chunk.indexOf(NEWLINE, start)
    }
    this.append(chunk.subarray(start))
  }

  /** The unterminated remainder when the stream ends, if any. */
  end (): string | undefined {
    return this.buffered > 0 ? this.take() : undefined
  }

  private append (part: Buffer): void {
    if (part.length === 0) return
    this.buffered += part.length
    if (this.buffered > this.maxFrameBytes) {
      this.chunks = []
      this.buffered = 0
      throw new FrameTooLargeError(`frame exceeds ${this.maxFrameBytes} bytes`)
    }
    this.chunks.push(part)
  }

  private take (): string {
    const line = Buffer.concat(this.chunks, this.buffered).toString('utf8')
    this.chunks = []
    this.buffered = 0
    return withoutCr(line)
  }
}

function withoutCr (line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line
}

/** Encodes one message as a frame. */
export function encodeFrame (message: unknown): string {
  return JSON.stringify(message) + '\n'
}

/**
 * The nesting depth of a JSON text, found by scanning rather than parsing so
 * that a hostile 200,000-deep document is rejected before `JSON.parse` builds
 * it. Brackets inside strings do not count; strings are skipped with
 * `indexOf`, so a batch of long values costs little more than its brackets.
 */
export function jsonDepth (text: string): number {
  let depth = 0
  let max = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      i = stringEnd(text, i)
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    }
  }
  return max
}

const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * Where the string opened at `start` closes: the next quote after an even
 * run of backslashes, or the end of the text. Each backslash is counted once
 * (for the quote that follows it), so hostile escapes stay linear.
 */
function stringEnd (text: string, start: number): number {
  let end = text.indexOf('"', start + 1)
  while (end !== -1) {
    let backslashes = 0
    while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return end
    end = text.indexOf('"', end + 1)
  }
  return text.length
}

/**
 * Parses one frame with a depth limit. `__proto__` keys become ordinary own
 * properties of the parsed object (JSON.parse never touches prototypes), and
 * params are validated against strict schemas before use.
 */
export function parseFrame (text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (jsonDepth(text) > maxDepth) {
    throw new JsonTooDeepError(`JSON nested deeper than ${maxDepth} levels`)
  }
  return JSON.parse(text)
}
