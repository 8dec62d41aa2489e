/** The value type and expiry as ops carry them: absent for text, for none, and for deletes (see `Op.type`, `Op.expires`). */
import type { Op } from './types.js'

/** The `type` field of an op made from `source` (a change or an op): none for text and for deletes. */
export function typeOf ({ type, value }: { type?: string, value: Uint8Array | null }): Pick<Op, 'type'> {
  return value === null || type === undefined || type === 'text' ? {} : { type: type as NonNullable<Op['type']> }
}

/** The `expires` field of an op made again from `op`: a value written again keeps its expiry. */
export function expiryOf ({ expires, value }: { expires?: number, value: Uint8Array | null }): Pick<Op, 'expires'> {
  return value === null || expires === undefined ? {} : { expires }
}

/** `op` without its proof (what a listing returns). */
export function withoutProof (op: Op): Op {
  const plain: Op = { key: op.key, value: op.value, ...typeOf(op), ...expiryOf(op), wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq }
  if (op.seen !== undefined) plain.seen = op.seen
  if (op.refresh === true) plain.refresh = true
  return plain
}
