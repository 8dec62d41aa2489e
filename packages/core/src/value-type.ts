/** The value type as ops carry it: absent for text and for deletes (see `Op.type`). */
import type { Op } from './types.js'

/** The `type` field of an op made from `source` (a change or an op): none for text and for deletes. */
export function typeOf ({ type, value }: { type?: string, value: Uint8Array | null }): Pick<Op, 'type'> {
  return value === null || type === undefined || type === 'text' ? {} : { type: type as NonNullable<Op['type']> }
}
