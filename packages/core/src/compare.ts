/**
 * The total order behind last-writer-wins. Every replica must rank two ops the
 * same way, so the order uses only replicated fields and never a local clock.
 */
import type { Head, Op, Stamp, Version } from './types.js'

/** Orders clock readings by wall time, then logical counter. */
export function compareStamps (a: Stamp, b: Stamp): number {
  return Math.sign(a.wall - b.wall) || Math.sign(a.logical - b.logical)
}

/**
 * Orders versions by stamp, then origin, then seq. The origin breaks ties
 * between equal stamps from different nodes; seq only matters for two ops of
 * one origin with equal stamps, which a correct clock never issues.
 */
export function compareVersions (a: Version, b: Version): number {
  return compareStamps(a, b) || compareStrings(a.origin, b.origin) || Math.sign(a.seq - b.seq)
}

/** The content a version may carry: an op's value and its batch signature. */
interface Content {
  value?: Uint8Array | null
  type?: string
  expires?: number
  proof?: { sig: Uint8Array }
}

/**
 * Whether `a` wins over `b`. Two different ops with one version (an origin
 * that signed two writes with the same seq and stamp) are ranked by their
 * bytes, so every replica still keeps the same one whatever the arrival order.
 */
export function isNewer (a: Version & Content, b: Version & Content): boolean {
  return (compareVersions(a, b) || compareBytes(a.proof?.sig, b.proof?.sig) || compareBytes(a.value, b.value) || compareStrings(a.type ?? '', b.type ?? '') ||
    Math.sign((a.expires ?? -1) - (b.expires ?? -1))) > 0
}

/**
 * `isNewer(a, row)` for the row whose head is `head`, reading the whole row
 * (`row()`) only when the value must break the tie: `a` and the row carry one
 * version and one batch signature.
 */
export function beats (a: Op, head: Head, row: () => Op | undefined): boolean {
  const order = compareVersions(a, head) || compareBytes(a.proof?.sig, head.sig)
  if (order !== 0) return order > 0
  return isNewer(a, row() ?? { ...head, value: null })
}

/** The head of a row read whole (see `Head`). */
export function headOf (op: Op): Head {
  const head: Head = { key: op.key, wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq, live: op.value !== null, sig: op.proof?.sig ?? null }
  if (op.seen !== undefined) head.seen = op.seen
  if (op.refresh === true) head.refresh = true
  return head
}

/** Absent < present; then byte order. */
function compareBytes (a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): number {
  if (a == null || b == null) return (a == null ? 0 : 1) - (b == null ? 0 : 1)
  return Buffer.compare(a, b)
}

function compareStrings (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Orders strings by their UTF-8 bytes, as SQLite's BINARY collation does. JS
 * compares UTF-16 code units, which puts supplementary characters (surrogate
 * pairs, 0xD800–0xDFFF) below U+E000–U+FFFF; in UTF-8 they sort above. Mapping
 * the first differing unit fixes that without encoding either string.
 */
export function compareUtf8 (a: string, b: string): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return utf8Rank(x) - utf8Rank(y)
  }
  return Math.sign(a.length - b.length)
}

function utf8Rank (unit: number): number {
  if (unit >= 0xD800 && unit <= 0xDFFF) return unit + 0x2000
  return unit >= 0xE000 ? unit - 0x800 : unit
}
