/**
 * Frames of the sync protocol (`/murmur/sync/3.2.0`; 3.1.0 is the same
 * without `rows`, 3.0.0 without `summary` too). Each frame starts with a tag
 * byte: control messages are JSON, checked field by field; the others carry
 * ops in core's binary codec.
 *
 *   puller → server   hello { group, name, now, vector, skip?, recheck?, summary?, total?, rows? }
 *   server → puller   hello { group, name, now, vector, snapshot?, horizon?, summary? } | reject { reason }
 *   server → puller   (answering a summary) done {}: nothing else
 *   server → puller   (snapshot only) attest…: every member's attestation
 *   server → puller   (snapshot only, unless the hello said rows: false) import…: its rows at or below its floors
 *   server → puller   witness… / ops…: ops the puller lacks, in each origin's order
 *   server → puller   done {}
 *
 * A peer's vector, floors and horizon are what it says: they decide what to
 * send and ask for, never what the receiver holds (see `replica/`).
 */
import { decodeOps, encodeOps, type DecodeLimits } from '../codec.js'
import { OpCodecError } from '../errors.js'
import type { Op, VersionVector } from '../types.js'

export const SYNC_PROTOCOL = '/murmur/sync/3.2.0'
/** The protocol before a hello could decline a snapshot's rows: served still (the same frames but `rows`), and dialled when a peer speaks only it. */
export const SYNC_PROTOCOL_3_1 = '/murmur/sync/3.1.0'
/** The protocol before the hello's short form: served still (the same frames but `summary` and `rows`), and dialled when a peer speaks only it. */
export const SYNC_PROTOCOL_3_0 = '/murmur/sync/3.0.0'

const TAGS = { control: 0x01, ops: 0x02, witness: 0x03, import: 0x04, attest: 0x05 } as const
export type OpsKind = Exclude<keyof typeof TAGS, 'control'>

export class SyncProtocolError extends Error {
  static override name = 'SyncProtocolError'
  override name = 'SyncProtocolError'
}

/** The peer refused the sync (another group, say). */
export class SyncRejectedError extends Error {
  static override name = 'SyncRejectedError'
  override name = 'SyncRejectedError'
}

export interface Hello {
  t: 'hello'
  group: string
  name: string
  /** The sender's wall clock, for estimating clock offsets. */
  now: number
  /** Origin → seq up to which the sender holds every op. */
  vector: VersionVector
  /** (puller) Runs of seqs it holds already, waiting: not to be sent again. */
  skip?: Record<string, Array<[number, number]>>
  /**
   * (puller) Origin → seq: send this origin's ops from there up (from the
   * server's floor when that is higher) although the vector covers them. The
   * server's attestation disagreed with the puller's ops of the origin: the
   * puller wants the server's own ops to see which seq was signed twice.
   */
  recheck?: VersionVector
  /** (server) The puller is behind its floors: attestations and rows follow before the ops. */
  snapshot?: boolean
  /**
   * Its newest collected tombstone, [wall, logical]. (server, with snapshot)
   * for the puller to tell which of its writes to make again; (puller) so the
   * server sends a witness only with an op stamped at or before it.
   */
  horizon?: [number, number]
  /** (server, with snapshot) Its floors, origin → [seq, wall, logical, digest accumulator (base64)]: where its rows end and its ops begin. */
  floors?: Record<string, [number, number, number, string]>
  /**
   * The digest of the sender's vector (`summarize`), sent instead of it
   * (`vector` empty): (puller) it held the same as this server last time;
   * (server, answering one) its own, with its vector only if they differ.
   */
  summary?: string
  /** (puller, with `summary`) The sum of its vector's seqs (`totalOf`). */
  total?: number
  /**
   * (puller, 3.2.0) `false`: should the server offer a snapshot, its hello,
   * floors and attestations, then its ops from the floors up as a snapshot
   * has them, but not its rows. The puller declined the last snapshot this
   * server offered (see `PullSession`): it decides again from the
   * attestations, and if it would now take them asks for the rows on its next
   * pull (at once, once a `STUCK_MS` per server).
   */
  rows?: false
}

export type Control = Hello | { t: 'reject', reason: string } | { t: 'done' }
export type Frame = { kind: 'control', message: Control } | { kind: OpsKind, ops: Op[] }

const MAX_ORIGINS = 100_000
const MAX_SKIP_RUNS = 1024
// Origins are peer ID strings (base58 or base32): alphanumeric, which also keeps `__proto__` and friends out of parsed records.
const ORIGIN = /^[A-Za-z0-9]{1,128}$/

export function encodeFrame (frame: Frame): Uint8Array {
  const body = frame.kind === 'control' ? Buffer.from(JSON.stringify(frame.message)) : encodeOps(frame.ops)
  const out = new Uint8Array(body.length + 1)
  out[0] = TAGS[frame.kind]
  out.set(body, 1)
  return out
}

/** Decodes one frame; throws `SyncProtocolError` for anything malformed. */
export function decodeFrame (bytes: Uint8Array, limits: DecodeLimits = {}): Frame {
  const kind = (Object.keys(TAGS) as Array<keyof typeof TAGS>).find(k => TAGS[k] === bytes[0])
  if (kind === undefined) throw new SyncProtocolError(`unknown frame tag ${bytes[0]}`)
  const body = bytes.subarray(1)
  try {
    if (kind !== 'control') return { kind, ops: decodeOps(body, limits) }
    return { kind, message: control(JSON.parse(Buffer.from(body).toString('utf8'))) }
  } catch (err) {
    if (err instanceof SyncProtocolError) throw err
    if (err instanceof OpCodecError || err instanceof SyntaxError) throw new SyncProtocolError(`malformed ${kind} frame: ${err.message}`)
    throw err
  }
}

function control (value: unknown): Control {
  const message = record(value, 'control message')
  switch (message.t) {
    case 'done':
      fields(message, ['t'])
      return { t: 'done' }
    case 'reject':
      fields(message, ['t', 'reason'])
      return { t: 'reject', reason: text(message.reason, 'reason', 1024) }
    case 'hello': {
      fields(message, ['t', 'group', 'name', 'now', 'vector', 'skip', 'recheck', 'snapshot', 'horizon', 'floors', 'summary', 'total', 'rows'])
      const hello: Hello = { t: 'hello', group: text(message.group, 'group', 256), name: text(message.name, 'name', 256), now: count(message.now, 'now'), vector: vector(message.vector) }
      if (message.skip !== undefined) hello.skip = skip(message.skip)
      if (message.recheck !== undefined) hello.recheck = vector(message.recheck, 'recheck')
      if (message.snapshot !== undefined) {
        if (typeof message.snapshot !== 'boolean') fail('snapshot is not a boolean')
        hello.snapshot = message.snapshot
      }
      if (message.horizon !== undefined) {
        if (!Array.isArray(message.horizon) || message.horizon.length !== 2) fail('horizon is not [wall, logical]')
        hello.horizon = [count(message.horizon[0], 'horizon wall'), count(message.horizon[1], 'horizon logical')]
      }
      if (message.floors !== undefined) hello.floors = floors(message.floors)
      if (message.summary !== undefined) hello.summary = text(message.summary, 'summary', 64)
      if (message.total !== undefined) hello.total = count(message.total, 'total')
      if (message.rows !== undefined) {
        if (message.rows !== false) fail('rows is not false (leave it out to be sent them)')
        hello.rows = false
      }
      return hello
    }
    default:
      return fail(`unknown control message ${JSON.stringify(String(message.t)).slice(0, 40)}`)
  }
}

function vector (value: unknown, what = 'vector'): VersionVector {
  const entries = Object.entries(record(value, what))
  if (entries.length > MAX_ORIGINS) fail(`${what} names too many origins`)
  const out: VersionVector = {}
  for (const [origin, seq] of entries) out[originName(origin)] = count(seq, `${what} entry for ${origin}`)
  return out
}

function floors (value: unknown): Record<string, [number, number, number, string]> {
  const entries = Object.entries(record(value, 'floors'))
  if (entries.length > MAX_ORIGINS) fail('floors name too many origins')
  const out: Record<string, [number, number, number, string]> = {}
  for (const [origin, mark] of entries) {
    if (!Array.isArray(mark) || mark.length !== 4 || typeof mark[3] !== 'string' || !/^[A-Za-z0-9+/]{43}=$/.test(mark[3])) fail(`floor for ${origin} is not [seq, wall, logical, acc]`)
    out[originName(origin)] = [count(mark[0], 'floor seq'), count(mark[1], 'floor wall'), count(mark[2], 'floor logical'), mark[3]]
  }
  return out
}

function skip (value: unknown): Record<string, Array<[number, number]>> {
  const out: Record<string, Array<[number, number]>> = {}
  let runs = 0
  for (const [origin, list] of Object.entries(record(value, 'skip'))) {
    if (!Array.isArray(list)) fail(`skip for ${origin} is not a list`)
    out[originName(origin)] = list.map(run => {
      if (!Array.isArray(run) || run.length !== 2) fail('a skip run is not [from, to]')
      const from = count(run[0], 'skip from')
      const to = count(run[1], 'skip to')
      if (from > to || ++runs > MAX_SKIP_RUNS) fail('skip runs out of order or too many')
      return [from, to]
    })
  }
  return out
}

function record (value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} is not an object`)
  return value as Record<string, unknown>
}

function fields (message: Record<string, unknown>, allowed: string[]): void {
  const extra = Object.keys(message).find(key => !allowed.includes(key))
  if (extra !== undefined) fail(`unexpected field ${JSON.stringify(extra).slice(0, 40)}`)
}

function text (value: unknown, what: string, max: number): string {
  if (typeof value !== 'string' || value.length > max) fail(`${what} is not a string of at most ${max} characters`)
  return value
}

function count (value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(`${what} is not a safe non-negative integer`)
  return value
}

function originName (origin: string): string {
  if (!ORIGIN.test(origin)) fail(`origin ${JSON.stringify(origin).slice(0, 40)} is not a peer ID`)
  return origin
}

function fail (message: string): never {
  throw new SyncProtocolError(`invalid control message: ${message}`)
}
