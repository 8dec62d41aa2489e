/** Length-prefixed reads that stop at an empty buffer without constructing an Error (length-prefix.ts), frames unchanged. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { quietEmptyReads } from '../src/length-prefix.js'

interface Buffered { byteLength: number, getUint16: (at: number) => number }

/** A 2-byte big-endian length decoder, as noise's, that counts what it is asked. */
function countingDecoder (): { decode: (buf: Buffered) => number, asked: { empty: number, all: number } } {
  const asked = { empty: 0, all: 0 }
  return {
    asked,
    decode: buf => {
      asked.all++
      if (buf.byteLength === 0) asked.empty++
      if (buf.byteLength < 2) throw new RangeError('Could not decode int16BE')
      return buf.getUint16(0)
    }
  }
}

function frame (payload: number[]): number[] {
  return [payload.length >> 8, payload.length & 0xff, ...payload]
}

/** Feeds `chunks` to a new decoder; the payloads it yields, and what its length decoder was asked. */
function read (chunks: number[][]): { frames: number[][], asked: { empty: number, all: number } } {
  const length = countingDecoder()
  const decoder = new LengthPrefixedDecoder({ lengthDecoder: length.decode as never, encodingLength: () => 2 })
  const frames: number[][] = []
  for (const chunk of chunks) for (const out of decoder.decode(Uint8Array.from(chunk))) frames.push([...out.subarray()])
  return { frames, asked: length.asked }
}

describe('quietEmptyReads', () => {
  // whole frames, two in one chunk, one split inside its length and its payload, an empty frame, an empty chunk
  const chunks = [frame([1, 2, 3]), [...frame([4]), ...frame([5, 6])], [0], [3, 7], [8, 9], frame([]), [], frame([10])]
  const expected = [[1, 2, 3], [4], [5, 6], [7, 8, 9], [10]]

  it('yields the same frames, and never asks the length decoder about an empty buffer', () => {
    const before = read(chunks)
    assert.deepEqual(before.frames, expected)
    // as @libp2p/utils has it: asked after each chunk's last whole frame, it throws a new RangeError each time
    assert.ok(before.asked.empty >= 5, `asked about an empty buffer ${before.asked.empty} times`)
    quietEmptyReads()
    quietEmptyReads()
    const after = read(chunks)
    assert.deepEqual(after.frames, expected)
    assert.equal(after.asked.empty, 0)
    // a length cut in two still reaches it, and its RangeError still means "wait for more"
    assert.ok(after.asked.all > 0)
  })

  it('still refuses a frame over the limit', () => {
    quietEmptyReads()
    const decoder = new LengthPrefixedDecoder({ lengthDecoder: countingDecoder().decode as never, encodingLength: () => 2, maxDataLength: 4 })
    assert.throws(() => [...decoder.decode(Uint8Array.from(frame([1, 2, 3, 4, 5])))], /Invalid message length/)
  })
})
