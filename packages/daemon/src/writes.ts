/**
 * The write path of a node: each put and delete is checked where it enters
 * (the key against the protocol's schema, the value against the size limit),
 * committed through the write queue, and a commit or fsync the disk refuses
 * is reported as a `Storage` error, for the library API (and the RPC over it)
 * and replication's own writes (attestations, ops written again) alike.
 * A json value must parse; a value under a schema's prefix must validate (see
 * schemas.ts), against the schemas as the schema writes taken before it leave
 * them, committed or not yet (a batch's, or another request's in the same
 * group commit); a conditional write is checked at its commit (see conditions.ts);
 * a TTL must be in range, and a keepalive is refreshed from its commit on (see
 * keepalive.ts) until a delete or a put without one enters.
 */
import { InvalidJsonError, Key, MAX_TTL_MS, MIN_KEEPALIVE_TTL_MS, MurmurRpcError, SCHEMA_KEY_PREFIX, parseJson, rpcError } from '@murmur/protocol'
import type { Change, Op, Replica, ValueType, Version } from '@murmur/core'
import type { Logger } from 'pino'
import { conditionFailure, isConditional, versionOf, type Condition } from './conditions.js'
import type { NodeMetrics } from './metrics/node-metrics.js'
import type { Precondition, WriteQueue } from './write-queue.js'
import { Schemas, type SchemaView } from './schemas.js'
import { Keepalives } from './keepalive.js'

export { versionOf } from './conditions.js'
export type { Condition } from './conditions.js'

/** What one write of `writeMany` settles to: a put's version, or what a delete did. */
export type WriteOutcome = Version | { deleted: boolean, version?: Version }

/** A put's options: its value type (default text), a condition, a TTL and whether this node keeps it alive. */
export interface PutOptions extends Condition {
  type?: ValueType
  /** The value expires this long after its write, on every replica: 1 ms to a year. */
  ttlMs?: number
  /** This node writes it again every third of `ttlMs` while it runs (a TTL of at least 2 s), until a delete or a put without keepalive. */
  keepalive?: boolean
}

/** One write of `writeMany`: a put, or a delete (`value: null`, where only `ifVersion` applies). */
export interface Write extends PutOptions {
  key: string
  value: Uint8Array | string | null
}

export interface WritesInit {
  /** Largest value accepted, in bytes. */
  maxValueBytes: number
  log: Logger
  /** Times each acknowledgement, when the node keeps metrics. */
  metrics?: NodeMetrics
}

export interface WritesComponents {
  /** The running node's replica and write queue; throws NotStartedError while the node is stopped. */
  running: () => { replica: Replica, writeQueue: WriteQueue }
}

/** A write to a `_schema/` key taken but not yet settled (see `Writes.holdSchema`). */
interface SchemaWrite { key: string, value: Uint8Array | null, conditional: boolean }

/** Changes submitted as one: a run of plain writes, or one conditional write with its check. */
interface Submission {
  changes: Change[]
  /** The index in `writes` of each change. */
  indexes: number[]
  check?: Precondition
}

export class Writes {
  private readonly components: WritesComponents
  private readonly init: WritesInit
  private readonly schemas = new Schemas()
  /** Schema writes taken and not yet committed (or refused), in the order taken. */
  private readonly unsettled: SchemaWrite[] = []
  readonly keepalives: Keepalives

  constructor (components: WritesComponents, init: WritesInit) {
    this.components = components
    this.init = init
    this.keepalives = new Keepalives({ replica: () => components.running().replica, submit: async (changes, check) => await this.submit(changes, check), log: init.log.child({ component: 'keepalive' }) })
  }

  async put (key: string, value: Uint8Array | string, options: PutOptions = {}): Promise<Version> {
    if (value === null) throw invalidValue(value) // a caller without types: a put never deletes
    return await this.one({ ...options, key, value }) as Version
  }

  async delete (key: string, options: Condition = {}): Promise<{ deleted: boolean, version?: Version }> {
    return await this.one({ ifVersion: options.ifVersion, key, value: null }) as { deleted: boolean, version?: Version }
  }

  /** One write on its own: what `writeMany` does for one, without its bookkeeping (the common case, on every put). */
  private async one (write: Write): Promise<WriteOutcome> {
    const change = this.changeOf(write, () => this.schemaView())
    if (change === undefined) return { deleted: false }
    const release = this.holdSchema(change, isConditional(write))
    try {
      const [op] = await this.submit([change], isConditional(write) ? this.precondition(write.key, write) : undefined)
      return this.settle(write, op as Op)
    } finally {
      release()
    }
  }

  /** The schemas the node holds, and those it has taken writes of that are not committed yet: a put taken now commits after them. */
  private schemaView (): SchemaView {
    const held = this.schemas.view(this.components.running().replica)
    return this.unsettled.reduce((view, { key, value, conditional }) => view.after(key, value, conditional), held)
  }

  /** Holds a write of a schema key among the unsettled until the returned function is called, at its settling (a no-op for any other key). */
  private holdSchema ({ key, value }: Change, conditional: boolean): () => void {
    if (!key.startsWith(SCHEMA_KEY_PREFIX)) return () => {}
    const held = { key, value, conditional }
    this.unsettled.push(held)
    return () => { this.unsettled.splice(this.unsettled.indexOf(held), 1) }
  }

  /** What a committed write settles to; a put with `keepalive` is kept alive from its commit on. */
  private settle (write: Write, op: Op): WriteOutcome {
    if (write.keepalive === true && write.ttlMs !== undefined) this.keepalives.hold(op, write.ttlMs)
    return outcomeOf(op)
  }

  /**
   * One commit for all of `writes` (see `Murmur.writeMany`), each settling on
   * its own: plain writes go in runs, each conditional one on its own, so a
   * refused condition refuses that write alone.
   */
  async writeMany (writes: Write[]): Promise<Array<PromiseSettledResult<WriteOutcome>>> {
    const settled = new Array<PromiseSettledResult<WriteOutcome>>(writes.length)
    const submissions: Submission[] = []
    let schemas: SchemaView | undefined // read once, at the first put
    const view = (): SchemaView => (schemas ??= this.schemaView())
    const releases: Array<() => void> = []
    writes.forEach((write, i) => {
      try {
        const change = this.changeOf(write, view)
        if (change == null) {
          settled[i] = { status: 'fulfilled', value: { deleted: false } }
          return
        }
        // the puts after it are checked as if it were made, as they would be in batches of their own
        if (change.key.startsWith(SCHEMA_KEY_PREFIX)) {
          schemas = view().after(change.key, change.value, isConditional(write))
          releases.push(this.holdSchema(change, isConditional(write)))
        }
        const last = submissions[submissions.length - 1]
        if (isConditional(write)) submissions.push({ changes: [change], indexes: [i], check: this.precondition(write.key, write) })
        else if (last !== undefined && last.check === undefined) {
          last.changes.push(change)
          last.indexes.push(i)
        } else submissions.push({ changes: [change], indexes: [i] })
      } catch (err) {
        settled[i] = { status: 'rejected', reason: err }
      }
    })
    // submitted in one turn, so the write queue commits them together
    const outcomes = await Promise.allSettled(submissions.map(async ({ changes, check }) => await this.submit(changes, check)))
    for (const release of releases) release()
    submissions.forEach(({ indexes }, s) => {
      const outcome = outcomes[s] as PromiseSettledResult<Op[]>
      indexes.forEach((i, j) => {
        if (outcome.status === 'rejected') settled[i] = outcome
        else settled[i] = { status: 'fulfilled', value: this.settle(writes[i] as Write, outcome.value[j] as Op) }
      })
    })
    return settled
  }

  /** Commits `changes` as this node's own ops, through the write queue (`check`: see `WriteQueue.submit`). */
  async submit (changes: Change[], check?: Precondition): Promise<Op[]> {
    const { log, metrics } = this.init
    try {
      if (metrics === undefined) return await this.components.running().writeQueue.submit(changes, check)
      const started = performance.now()
      const ops = await this.components.running().writeQueue.submit(changes, check)
      metrics.acknowledged((performance.now() - started) / 1000)
      return ops
    } catch (err) {
      if (err instanceof MurmurRpcError) throw err // a refused condition
      const code = String((err as { code?: unknown }).code ?? '')
      if (code.startsWith('SQLITE_')) {
        log.error({ err: (err as Error).message, code }, 'write failed')
        const reason = code === 'SQLITE_FULL' ? 'the disk is full' : (err as Error).message
        throw rpcError('Storage', `write not stored: ${reason}`, { sqlite: code })
      }
      if (['EIO', 'ENOSPC', 'EDQUOT', 'EROFS'].includes(code)) {
        // committed, but the fsync of the WAL failed: it may or may not survive a power cut
        log.error({ err: (err as Error).message, code }, 'write committed but not synced to disk')
        throw rpcError('Storage', `write not known to be on disk: ${(err as Error).message}`, { errno: code })
      }
      throw err
    }
  }

  /**
   * A write as the change to commit, checked; undefined for a delete with
   * nothing to delete. Any write of a key that passes its checks ends this
   * node's keepalive of it (a put with `keepalive` starts a new one at its
   * commit), even one whose condition then fails.
   */
  private changeOf (write: Write, schemas: () => SchemaView): Change | undefined {
    const change = write.value === null ? this.deleteChange(write) : this.putChange(write, schemas)
    this.keepalives.drop(write.key)
    return change
  }

  /** The check of a conditional write, run at its commit. */
  private precondition (key: string, condition: Condition): Precondition {
    return touched => conditionFailure(key, condition, this.components.running().replica.get(key), touched.has(key))
  }

  /** A put, checked: the key, the TTL, the value against the size limit, a json value as JSON, the value against its schema. */
  private putChange ({ key, value, type = 'text', ttlMs, keepalive }: Write, schemas: () => SchemaView): Change {
    const { maxValueBytes } = this.init
    checkKey(key)
    // checked here, not left to the op codec: it throws in the commit, failing every write committed with this one
    if (typeof value !== 'string' && !(value instanceof Uint8Array)) throw invalidValue(value)
    if (!VALUE_TYPES.includes(type)) throw rpcError('InvalidParams', `type must be "text", "json" or "binary"; got ${JSON.stringify(type)}`)
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
    checkTtl(ttlMs, keepalive === true)
    if (bytes.byteLength > maxValueBytes) {
      throw rpcError('ValueTooLarge', `value is ${bytes.byteLength} bytes; the limit is ${maxValueBytes}`, { limit: maxValueBytes, size: bytes.byteLength })
    }
    if (type === 'json') checkJson(bytes)
    schemas().check(key, bytes)
    return { key, value: bytes, ...(type !== 'text' ? { type } : {}), ...(ttlMs !== undefined ? { ttlMs } : {}) }
  }

  /** A delete, checked; undefined when there is nothing to delete (and no condition to fail). */
  private deleteChange (write: Write): Change | undefined {
    checkKey(write.key)
    if (isConditional(write)) return { key: write.key, value: null }
    return this.components.running().replica.get(write.key)?.value == null ? undefined : { key: write.key, value: null }
  }
}

function outcomeOf (op: Op): WriteOutcome {
  return op.value == null ? { deleted: true, version: versionOf(op) } : versionOf(op)
}

const VALUE_TYPES: readonly ValueType[] = ['text', 'json', 'binary']

function invalidValue (value: unknown): MurmurRpcError {
  return rpcError('InvalidParams', `value must be a string or a Uint8Array (delete() deletes); got ${value === null ? 'null' : typeof value}`)
}

/** The protocol's `Key` schema is the one definition of a valid key, for RPC and library calls alike. */
export function checkKey (key: string): void {
  const parsed = Key.safeParse(key)
  if (!parsed.success) throw rpcError('InvalidParams', parsed.error.issues[0]?.message ?? 'invalid key')
}

/** A TTL is a whole number of ms from 1 to a year; a keepalive needs one of at least `MIN_KEEPALIVE_TTL_MS`. */
function checkTtl (ttlMs: number | undefined, keepalive: boolean): void {
  if (ttlMs === undefined) {
    if (keepalive) throw rpcError('InvalidTtl', `a keepalive needs a TTL (ttlMs, at least ${MIN_KEEPALIVE_TTL_MS} ms)`, { ttlMs: null })
    return
  }
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_TTL_MS) {
    throw rpcError('InvalidTtl', `ttlMs must be a whole number of milliseconds from 1 to ${MAX_TTL_MS} (a year); got ${ttlMs}`, { ttlMs })
  }
  if (keepalive && ttlMs < MIN_KEEPALIVE_TTL_MS) {
    throw rpcError('InvalidTtl', `a keepalive's TTL must be at least ${MIN_KEEPALIVE_TTL_MS} ms (it is refreshed every third of it); got ${ttlMs}`, { ttlMs })
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Refuses bytes that are not one JSON document in UTF-8, naming where the parser stopped. */
function checkJson (bytes: Uint8Array): void {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw rpcError('InvalidJson', 'value is not valid JSON: it is not UTF-8')
  }
  try {
    parseJson(text)
  } catch (err) {
    if (!(err instanceof InvalidJsonError)) throw err
    throw rpcError('InvalidJson', `value is ${err.message}`, { position: err.position })
  }
}
