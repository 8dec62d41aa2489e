/**
 * An attestation: a member's signed statement of what it holds, published as
 * an op of its own under `attestationKey(member)` (so it travels, is checked,
 * superseded and collected like every op, and sits in each member's sequence
 * between the ops it wrote before and after it). Per origin it names the
 * member's held prefix: the seq, the stamp of the op there, and the XOR of
 * the digests of every op up to it. A node collects a tombstone only once
 * every member's attestation covers it and agrees with what the node holds.
 *
 *   version  1 byte (= 1)
 *   count    varint, then per origin in ascending order:
 *            origin (varint length + UTF-8, 1-128 bytes), seq, wall, logical (varints), acc (32 bytes)
 */
import { ByteReader, ByteWriter, check } from './bytes.js'
import { compareStamps } from './compare.js'
import { OpCodecError } from './errors.js'
import { DIGEST_BYTES } from './proof.js'
import type { Mark, Op, Stamp } from './types.js'

const FORMAT_VERSION = 1
const MAX_ORIGIN_BYTES = 128

export interface Attestation {
  /** The member that signed it (the op's origin). */
  member: string
  /** The attestation op's own seq and stamp: every op the member writes later is stamped after it. */
  seq: number
  stamp: Stamp
  /** Origin → what the member held of it. */
  marks: Map<string, Mark>
}

/** How long an attestation waits per origin it names, at least, by default (see `attestEvery`). */
export const ATTEST_MS_PER_ORIGIN = 100

/**
 * The least time between two attestations of a member that names `origins`
 * origins: `intervalMs`, or `perOrigin` (100 ms by default) per origin when that is longer. Each names
 * every origin and every member attests, so at a fixed interval a group's
 * attestations grow with the square of its size on every node (1.2 MB/s per
 * node at 30 members under writes, in the scale simulation); stretched with
 * the origins they grow with its size, and collection follows writes within
 * a tenth of a second per writer.
 */
export function attestEvery (origins: number, intervalMs: number, perOrigin = ATTEST_MS_PER_ORIGIN): number {
  return Math.max(intervalMs, origins * perOrigin)
}

/**
 * A node's attestation interval (`attestEvery`'s `intervalMs`) for a
 * tombstone grace: a tenth of it, within 1–10 s (the default grace of 5 min:
 * 10 s). Collection waits the grace anyway, and every attestation names every
 * origin and reaches every member: at one a second, under 10 writes/s, they
 * were most of a 10-node group's traffic and CPU. The replica's default.
 */
export function attestIntervalFor (tombstoneGraceMs: number): number {
  return Math.min(10_000, Math.max(1_000, Math.round(tombstoneGraceMs / 10)))
}

/**
 * How much longer a node waits between attestations per origin they name
 * (`attestEvery`'s `perOrigin`) for a tombstone grace: a three-hundredth of
 * it, within 100 ms–1 s (the default grace of 5 min: 1 s). A group's
 * attestations then come about once a second in all, whatever its size (at
 * 100 members each attests every 100 s): at 100 ms an origin, every node of
 * a 100-node group on two cores took ~2 % of a core decoding them, and
 * gossip never settled. Collection waits the grace anyway, and at most that
 * interval longer. The replica's default.
 */
export function attestMsPerOriginFor (tombstoneGraceMs: number): number {
  return Math.min(1_000, Math.max(ATTEST_MS_PER_ORIGIN, Math.round(tombstoneGraceMs / 300)))
}

export function encodeAttestation (marks: Map<string, Mark>): Uint8Array {
  const out = new ByteWriter()
  out.byte(FORMAT_VERSION)
  const origins = [...marks.keys()].sort()
  out.varint(origins.length)
  for (const origin of origins) {
    const mark = marks.get(origin) as Mark
    out.bytes(Buffer.from(origin, 'utf8'))
    out.varint(mark.seq)
    out.varint(mark.wall)
    out.varint(mark.logical)
    out.raw(mark.acc)
  }
  return out.finish()
}

/**
 * Reads the attestation carried by `op` (an op on its origin's attestation
 * key). Throws `OpCodecError` for anything malformed, including a mark
 * stamped at or after the attestation itself, which no honest clock issues,
 * and a mark for its own member at or past its own seq.
 */
export function decodeAttestation (op: Op): Attestation {
  check(op.value !== null, 'an attestation cannot be deleted')
  const input = new ByteReader(op.value)
  const version = input.byte('attestation version')
  check(version === FORMAT_VERSION, `unknown attestation version ${version}`)
  const count = input.varint('attestation origin count')
  const marks = new Map<string, Mark>()
  let previous: string | undefined
  for (let i = 0; i < count; i++) {
    const origin = input.text(`attestation origin ${i}`, MAX_ORIGIN_BYTES)
    check(origin.length > 0 && (previous === undefined || origin > previous), `attestation origin ${i} is empty or out of order`)
    previous = origin
    const mark: Mark = {
      seq: input.varint(`attestation seq ${i}`),
      wall: input.varint(`attestation wall ${i}`),
      logical: input.varint(`attestation logical ${i}`),
      acc: new Uint8Array(input.fixed(`attestation acc ${i}`, DIGEST_BYTES))
    }
    check(mark.seq >= 1, `attestation seq ${i} is 0`)
    if (compareStamps(mark, op) >= 0) throw new OpCodecError(`attestation mark for ${origin} is stamped at or after the attestation`)
    marks.set(origin, mark)
  }
  check(input.atEnd(), `${input.remaining()} trailing bytes after the attestation`)
  // an attestation is one of its member's own ops: it cannot hold the member's ops from its own seq on
  check((marks.get(op.origin)?.seq ?? 0) < op.seq, 'an attestation holds its own member\'s ops past its own seq')
  return { member: op.origin, seq: op.seq, stamp: { wall: op.wall, logical: op.logical }, marks }
}
