/**
 * Optional JSON Schemas. The schema for the keys under `<prefix>` is the
 * value of the key `_schema/<prefix>`, replicated like any key, so every node
 * learns it. This node's own puts are checked against the schemas it holds
 * when the put is accepted: a value under a schema's prefix must be JSON
 * (whatever its type: text and binary bytes too must parse as UTF-8 JSON) and
 * validate against the schema of the longest matching prefix; a put to
 * `_schema/<prefix>` must be a schema ajv compiles. Ops from peers are never
 * checked here: a replica applies whatever a valid signed op holds, so all
 * replicas converge; the check stops bad config where it is written.
 *
 * The schema keys are read once and kept until one of them changes: the
 * store tells of every change under `_schema/` (this node's puts, a peer's
 * ops however they came, a row a snapshot or collection removed), or until
 * the first of them with a TTL expires (which the store tells only at its
 * next sweep, up to a second later).
 */
import { createRequire } from 'node:module'
import { setFlagsFromString } from 'node:v8'
import type { Ajv, ValidateFunction } from 'ajv'
import { SCHEMA_KEY_PREFIX, rpcError } from '@murmur/protocol'
import type { Op, Replica } from '@murmur/core'

/** A schema, compiled for one version of its key (or why it does not compile). */
interface Compiled {
  version: string
  validate?: ValidateFunction
  error?: string
}

/** What the schemas are read from: a replica (and its clock for expiry), and its store, which tells of changes. */
export type SchemaSource = Pick<Replica, 'list' | 'expiryClock'> & { store: Pick<Replica['store'], 'watch'> }

/** The schemas a node holds, at one moment: what `check` validates against. */
export interface SchemaView {
  /** Throws `SchemaViolationError` or `InvalidSchemaError` when `value` may not be put at `key`. */
  check: (key: string, value: Uint8Array) => void
  /**
   * The view for the writes after one to the schema key `key` in the same
   * batch (`value` null: a delete), so that a batch checks each put as the
   * writes before it leave the schemas, as one write a batch would. A
   * `conditional` write may yet be refused at its commit: the puts after it
   * must then match the schemas with it and without it.
   */
  after: (key: string, value: Uint8Array | null, conditional: boolean) => SchemaView
}

/** What may govern a prefix: a stored schema row, the bytes of a schema written earlier in the batch, or none (deleted). */
type Candidate = Op | Uint8Array | null

/** The schema prefix that governs `key`: the longest of `prefixes` that starts it. Schema keys are governed by none. */
export function governingPrefix (key: string, prefixes: Iterable<string>): string | undefined {
  if (key.startsWith(SCHEMA_KEY_PREFIX)) return undefined
  let best: string | undefined
  for (const prefix of prefixes) {
    if (key.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix
  }
  return best
}

/**
 * The schemas that may govern `key`, each with its prefix: the longest
 * prefix's, and, while a prefix may have none (a conditional write in the
 * batch may or may not set or delete it), the next longest's as well.
 */
function governing (key: string, candidates: ReadonlyMap<string, Candidate[]>): Array<[string, Op | Uint8Array]> {
  const found: Array<[string, Op | Uint8Array]> = []
  let prefix = governingPrefix(key, candidates.keys())
  while (prefix !== undefined) {
    const here = candidates.get(prefix) as Candidate[]
    for (const candidate of here) if (candidate !== null) found.push([prefix, candidate])
    if (!here.includes(null)) break
    const shorter = prefix
    prefix = governingPrefix(key, [...candidates.keys()].filter(other => other.length < shorter.length))
  }
  return found
}

export class Schemas {
  /** By schema key; an entry is compiled again only when its key's version changes. */
  private readonly compiled = new Map<string, Compiled>()
  /** Schemas written earlier in a batch, not committed yet, compiled once for the batch's puts. */
  private readonly pending = new WeakMap<Uint8Array, Omit<Compiled, 'version'>>()
  /** The schema rows as last read, by prefix, until a schema key changes or the first of them expires. */
  private rows?: Map<string, Candidate[]>
  /** When the first of `rows` expires: it governs nothing from then on, though the store tells of it only at the next sweep. */
  private rowsExpire = Infinity
  /** The replica whose store tells this cache of changes, and how to stop it. */
  private watched?: { replica: SchemaSource, stop: () => void }

  /** The schemas `replica` holds now. */
  view (replica: SchemaSource): SchemaView {
    return this.viewOf(this.read(replica))
  }

  private viewOf (candidates: ReadonlyMap<string, Candidate[]>): SchemaView {
    return {
      check: (key, value) => {
        if (key.startsWith(SCHEMA_KEY_PREFIX)) {
          const error = compile(value).error
          const prefix = key.slice(SCHEMA_KEY_PREFIX.length)
          if (error !== undefined) throw rpcError('InvalidSchema', `not a valid JSON Schema for prefix ${JSON.stringify(prefix)}: ${error}`, { prefix })
          return
        }
        for (const [prefix, schema] of governing(key, candidates)) this.validate(key, prefix, schema, value)
      },
      after: (key, value, conditional) => {
        const prefix = key.slice(SCHEMA_KEY_PREFIX.length)
        const next = new Map(candidates)
        next.set(prefix, [...(conditional ? candidates.get(prefix) ?? [null] : []), value])
        return this.viewOf(next)
      }
    }
  }

  private read (replica: SchemaSource): Map<string, Candidate[]> {
    if (this.watched?.replica !== replica) { // a node started again has a new replica
      this.watched?.stop()
      this.rows = undefined
      this.watched = { replica, stop: replica.store.watch(SCHEMA_KEY_PREFIX, () => { this.rows = undefined }) }
    }
    const now = replica.expiryClock()
    if (this.rows !== undefined && now < this.rowsExpire) return this.rows
    const rows = new Map<string, Candidate[]>()
    this.rowsExpire = Infinity
    for (const op of replica.list({ prefix: SCHEMA_KEY_PREFIX }, now)) {
      rows.set(op.key.slice(SCHEMA_KEY_PREFIX.length), [op])
      if (op.expires !== undefined) this.rowsExpire = Math.min(this.rowsExpire, op.expires)
    }
    for (const key of this.compiled.keys()) if (!rows.has(key)) this.compiled.delete(key)
    this.rows = rows
    return rows
  }

  private validate (key: string, prefix: string, schema: Op | Uint8Array, value: Uint8Array): void {
    const { validate, error } = this.compiledFor(prefix, schema)
    const where = `the schema for prefix ${JSON.stringify(prefix)}`
    if (validate === undefined) throw rpcError('InvalidSchema', `${JSON.stringify(key)} is under ${where}, which does not compile: ${error ?? ''}`, { key, prefix })
    const data = parse(value)
    if (data === undefined) throw violation(key, prefix, `${JSON.stringify(key)} is under ${where}, and its value is not JSON`, [])
    let valid: unknown
    try {
      valid = validate(data.value)
    } catch (err) {
      throw violation(key, prefix, `${where} could not check ${JSON.stringify(key)}: ${(err as Error).message}`, [])
    }
    if (valid !== true) {
      const errors = validate.errors ?? []
      throw violation(key, prefix, `${JSON.stringify(key)} does not match ${where}: ${validator().errorsText(errors, { dataVar: 'value' })}`, errors)
    }
  }

  private compiledFor (prefix: string, schema: Op | Uint8Array): Omit<Compiled, 'version'> {
    if (schema instanceof Uint8Array) {
      const compiled = this.pending.get(schema) ?? compile(schema)
      this.pending.set(schema, compiled)
      return compiled
    }
    const version = `${schema.origin}/${schema.seq}`
    const cached = this.compiled.get(prefix)
    if (cached?.version === version) return cached
    const compiled = { version, ...compile(schema.value ?? new Uint8Array()) }
    this.compiled.set(prefix, compiled)
    return compiled
  }
}

let ajv: Ajv | undefined
/** Schemas `ajv` compiled: it keeps every one (its cache holds each schema object for good), so it is replaced now and then. */
let compiles = 0
/** Compiles per ajv instance: an old instance goes once no validator it compiled is in use, bounding what ajv keeps. */
const COMPILES_PER_AJV = 100

/**
 * ajv, loaded on first use: only a node that holds or takes a `_schema/` key
 * needs it, and loading and setting it up costs an idle node ~4 MB of RSS.
 * Required at run time like prom-client (metrics/prom.ts): murmurd's bundle
 * leaves it out. One instance for every schema: `addUsedSchema: false` keeps
 * a schema's `$id` from clashing with another's (or its own next version's);
 * `logger: false` keeps ajv's warnings off the daemon's stderr.
 */
function validator (): Ajv {
  ajv ??= new (createRequire(import.meta.url)('ajv') as typeof import('ajv')).Ajv({ addUsedSchema: false, logger: false, unicodeRegExp: false, code: { regExp: linearRegExp } })
  return ajv
}

let linearEngine = false

/** Syntax whose meaning needs the `u` flag (property classes, code point escapes), or a character outside the BMP. */
const UNICODE_ONLY = /\\[pP]\{|\\u\{|[\uD800-\uDFFF]/

/**
 * A schema's `pattern` and `patternProperties`, run by V8's linear-time engine
 * (the `l` flag). Any member may write a schema, and its patterns run on every
 * node's puts under its prefix: with the backtracking engine, `^(a+)+$`
 * against 40 `a`s and a `b` held a node's event loop for hours, its gossip,
 * sync, pings and RPCs with it. The engine runs no backreference or
 * lookaround (such a pattern does not compile, and its schema is refused) and
 * not with the `u` flag: a pattern is matched without it, so one that needs it
 * (`\p{…}`, `\u{…}`, a character outside the BMP) is refused rather than
 * matched otherwise; `.` and a class take a UTF-16 unit (half of an emoji).
 */
function linearRegExp (pattern: string): RegExp {
  // a pattern must still be one in unicode mode, as JSON Schema has it
  void new RegExp(pattern, 'u')
  if (UNICODE_ONLY.test(pattern)) throw new Error(`pattern ${JSON.stringify(pattern)} needs the u flag (\\p{…}, \\u{…} or a character outside the BMP): murmur matches patterns in linear time, without it`)
  if (!linearEngine) {
    // the engine is in Node 20, 22 and 24 behind this flag, read as each expression compiles
    setFlagsFromString('--enable-experimental-regexp-engine')
    linearEngine = true
  }
  try {
    return new RegExp(pattern, 'l')
  } catch (err) {
    throw new Error(`pattern ${JSON.stringify(pattern)} cannot be matched in linear time (no backreferences or lookarounds): ${(err as Error).message}`)
  }
}
linearRegExp.code = 'linearRegExp'

function compile (bytes: Uint8Array): Omit<Compiled, 'version'> {
  const schema = parse(bytes)
  if (schema === undefined) return { error: 'it is not JSON' }
  if (++compiles > COMPILES_PER_AJV) {
    ajv = undefined
    compiles = 1
  }
  try {
    const validate = validator().compile(schema.value as object)
    // an async schema's answer is a promise, which a write cannot wait for
    return (validate as { $async?: unknown }).$async === true ? { error: '$async schemas are not supported' } : { validate }
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function parse (bytes: Uint8Array): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(utf8.decode(bytes)) }
  } catch {
    return undefined
  }
}

function violation (key: string, prefix: string, message: string, errors: unknown[]): Error {
  return rpcError('SchemaViolation', message, { key, prefix, errors })
}
