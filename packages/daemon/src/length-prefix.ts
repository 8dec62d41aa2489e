/**
 * No stack trace per read. `LengthPrefixedDecoder` (@libp2p/utils; noise
 * reads every connection's frames with it) asks its length decoder for the
 * next length after the last whole frame even when nothing is left, and the
 * length decoder answers an empty buffer by throwing a `RangeError`, which
 * the loop catches as "wait for more": a new Error, its stack trace captured,
 * for every chunk every connection reads. On a replica taking 100 writes/s
 * that was 4% of its CPU (perf: `ErrorUtils::Construct` under noise's
 * `decode`). `quietEmptyReads` gives each decoder a length decoder that
 * throws one `RangeError` made once for an empty buffer; the loop stops as
 * before, and anything else goes to the original decoder.
 */
import { LengthPrefixedDecoder } from '@libp2p/utils'

type LengthDecoder = ((buf: { byteLength: number }) => number) & { quiet?: true }

/** Thrown for every empty buffer, so made once: throwing it captures no stack. */
const NOTHING_YET = new RangeError('no length prefix in an empty buffer')

/** Makes every `LengthPrefixedDecoder` stop at an empty buffer without constructing an Error (idempotent). */
export function quietEmptyReads (): void {
  const proto = LengthPrefixedDecoder.prototype as unknown as { decode: (this: Decoder, buf: unknown) => unknown, quietEmptyReads?: true }
  if (proto.quietEmptyReads === true) return
  proto.quietEmptyReads = true
  const decode = proto.decode
  proto.decode = function (this: Decoder, buf: unknown) {
    if (this.lengthDecoder.quiet !== true) this.lengthDecoder = quiet(this.lengthDecoder)
    return decode.call(this, buf)
  }
}

interface Decoder { lengthDecoder: LengthDecoder }

function quiet (inner: LengthDecoder): LengthDecoder {
  const decoder: LengthDecoder = buf => {
    if (buf.byteLength === 0) throw NOTHING_YET
    return inner(buf)
  }
  decoder.quiet = true
  return decoder
}
