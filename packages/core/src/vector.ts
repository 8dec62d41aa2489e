/**
 * Helpers both stores share for version vectors and `missing()` pages.
 */
import type { MissingPage, Op, VersionVector } from './types.js'

/**
 * `vector[origin]`, or 0. Vectors come from peers, so an origin named like an
 * `Object.prototype` member ("constructor") must not read the prototype.
 */
export function seqOf (vector: VersionVector, origin: string): number {
  return Object.hasOwn(vector, origin) ? vector[origin] ?? 0 : 0
}

/** A page of a `missing()` scan: a full page may have more behind it, so it carries a cursor. */
export function missingPage (ops: Op[], limit: number): MissingPage {
  const last = ops.at(-1)
  return ops.length >= limit && last !== undefined ? { ops, next: { origin: last.origin, seq: last.seq } } : { ops }
}
