/**
 * Frames of the sync protocol. Each length-prefixed frame starts with a tag
 * byte: control messages are JSON, op pages use core's binary op codec.
 *
 *   puller → server   hello { group, name, vector }
 *   server → puller   hello { group, name } | reject { reason }
 *   server → puller   ops…  (pages of what the puller's vector lacks)
 *   server → puller   done { vector, gcVector }  (the server's vectors when it began)
 *
 * A puller whose vector is below the server's GC vector may hold values the
 * server deleted and no longer has tombstones for: the server says
 * `snapshot` in its hello and sends every row, and the puller then drops
 * the rows the snapshot lacked (see `Store.pruneAbsent`).
 *
 * The puller merges `done.vector` only after applying every page, so an
 * interrupted sync never claims knowledge it does not have.
 */
import { decodeOps, encodeOps, type Op } from '@murmur/core'
import { z } from 'zod'

export const SYNC_PROTOCOL = '/murmur/sync/2.0.0'

const CONTROL = 0x01
const OPS = 0x02

export class SyncProtocolError extends Error {
  static override name = 'SyncProtocolError'
  override name = 'SyncProtocolError'
}

// Origins are peer ID strings (base58 or base32): alphanumeric, which also
// keeps `__proto__` and friends out of the parsed record.
const Vector = z.record(z.string().regex(/^[A-Za-z0-9]{1,128}$/), z.number().int().nonnegative())
  .refine(v => Object.keys(v).length <= 100_000, 'too many origins')

const Control = z.discriminatedUnion('t', [
  // `now` is the sender's wall clock, for estimating clock offsets between peers
  // a server's hello says `snapshot` when the puller is behind what the server has garbage-collected
  z.strictObject({ t: z.literal('hello'), group: z.string().max(256), name: z.string().max(256), now: z.number().int().nonnegative(), vector: Vector.optional(), snapshot: z.boolean().optional() }),
  z.strictObject({ t: z.literal('reject'), reason: z.string().max(1024) }),
  z.strictObject({ t: z.literal('done'), vector: Vector, gcVector: Vector.optional() })
])

export type ControlMessage = z.infer<typeof Control>
export type Frame = { kind: 'control', message: ControlMessage } | { kind: 'ops', ops: Op[] }

export function encodeControl (message: ControlMessage): Uint8Array {
  const json = Buffer.from(JSON.stringify(message))
  const out = new Uint8Array(json.length + 1)
  out[0] = CONTROL
  out.set(json, 1)
  return out
}

export function encodeOpsFrame (ops: Op[]): Uint8Array {
  const body = encodeOps(ops)
  const out = new Uint8Array(body.length + 1)
  out[0] = OPS
  out.set(body, 1)
  return out
}

export interface DecodeLimits {
  maxValueBytes: number
}

export function decodeFrame (bytes: Uint8Array, limits: DecodeLimits): Frame {
  const body = bytes.subarray(1)
  try {
    if (bytes[0] === OPS) return { kind: 'ops', ops: decodeOps(body, { maxValueBytes: limits.maxValueBytes }) }
    if (bytes[0] === CONTROL) {
      const parsed = Control.safeParse(JSON.parse(Buffer.from(body).toString('utf8')))
      if (parsed.success) return { kind: 'control', message: parsed.data }
      throw new SyncProtocolError(`invalid control message: ${parsed.error.issues[0]?.message ?? 'unknown'}`)
    }
  } catch (err) {
    if (err instanceof SyncProtocolError) throw err
    throw new SyncProtocolError(`malformed frame: ${(err as Error).message}`)
  }
  throw new SyncProtocolError(`unknown frame tag ${bytes[0]}`)
}
