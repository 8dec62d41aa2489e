/**
 * The JSON-RPC method table: each method is defined once here, and both the
 * daemon's handlers and the client's calls are typed from it.
 *
 * Params are validated with zod schemas at the daemon; results are plain
 * TypeScript types in `results.ts` (the daemon produces them, so they need no
 * checking, and clients need not load zod to read them).
 *
 * The schemas use zod/mini, the tree-shakable build of zod's one core: the
 * same checks and issues as classic zod, but a bundled daemon loads ~40 KB of
 * it instead of ~750 KB, which took a fifth of murmurd's start. Only the
 * English messages are loaded, as classic zod does by default.
 */
import * as z from 'zod/mini'
import en from 'zod/v4/locales/en.js'
import { MAX_BACKUP_CHUNK_BYTES, MAX_INVITE_MS, MAX_KEY_BYTES, MAX_LIST_LIMIT, MAX_WATCH_PREFIXES, RESERVED_KEY_PREFIX } from './limits.js'

z.config(en())

/**
 * Values are bytes. On the wire `value` is a UTF-8 string unless
 * `encoding: "base64"` accompanies it. A result carries `encoding: "base64"`
 * when the stored bytes are not valid UTF-8, or when the caller asked for it.
 */
export const ValueEncoding = z.enum(['utf8', 'base64'])
export type ValueEncoding = z.infer<typeof ValueEncoding>

/**
 * What a value is: UTF-8 `text` (the default), a `json` document, or opaque
 * `binary` bytes. A json value travels as JSON itself (`"value": {"replicas": 3}`)
 * or, to keep its text byte for byte, as that text in base64 (`encoding:
 * "base64"`); text as a string, binary as base64 (`encoding: "base64"`).
 */
export const ValueType = z.enum(['text', 'json', 'binary'])
export type ValueType = z.infer<typeof ValueType>

export const Key = z.string().check(
  z.minLength(1, 'key must not be empty'),
  z.refine(key => !key.startsWith(RESERVED_KEY_PREFIX), 'key must not start with U+0000: those keys are murmur\'s own records'),
  z.refine(key => key.isWellFormed(), 'key must be valid UTF-8 (no lone surrogates)'),
  z.refine(key => Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES, `key must be at most ${MAX_KEY_BYTES} bytes of UTF-8`)
)

/** Text stored or matched as UTF-8 must be well-formed: a lone surrogate would silently become U+FFFD. */
const wellFormed = (text: string): boolean => text.isWellFormed()
const Prefix = z.string().check(z.maxLength(MAX_KEY_BYTES), z.refine(wellFormed, 'must be valid UTF-8 (no lone surrogates)'))

/**
 * The version a conditional write expects the key to hold now: the `origin`
 * and `seq` of its current write (what `kv_get` returns as `version`; `wall`
 * and `logical`, if given, must match too).
 */
const ExpectedVersion = z.strictObject({
  origin: z.string().check(z.minLength(1), z.maxLength(128)),
  seq: z.int().check(z.gte(1)),
  wall: z.optional(z.int().check(z.gte(0))),
  logical: z.optional(z.int().check(z.gte(0)))
})
export type ExpectedVersion = z.infer<typeof ExpectedVersion>

const BackupId = z.string().check(z.regex(/^[0-9a-f]{16}$/, 'a backup id from node_backup'))

export const methods = {
  kv_put: z.strictObject({
    key: Key,
    // any JSON for type "json" (or, with encoding base64, its text's bytes); otherwise a string (checked below, where the type is known)
    value: z.unknown(),
    encoding: z.optional(ValueEncoding),
    type: z.optional(ValueType),
    ifVersion: z.optional(ExpectedVersion),
    ifAbsent: z.optional(z.boolean()),
    // checked by the write path (InvalidTtlError), for RPC and library puts alike
    ttlMs: z.optional(z.number()),
    // refreshed by this daemon while it runs, every third of the TTL (see the daemon's keepalive.ts)
    keepalive: z.optional(z.boolean())
  }).check(
    z.refine(p => p.type === 'json' && p.encoding === undefined ? p.value !== undefined : typeof p.value === 'string', { message: 'value must be a string (any JSON value with type "json")', path: ['value'] }),
    z.refine(p => typeof p.value !== 'string' || p.type === 'json' || wellFormed(p.value), { message: 'value must be valid UTF-8 (no lone surrogates); send binary values base64-encoded', path: ['value'] }),
    // base64: the JSON text byte for byte (1e400, 12345678901234567891, -0), which as JSON would reach the daemon as a double
    z.refine(p => p.type !== 'json' || p.encoding !== 'utf8', { message: 'a json value travels as JSON, or as its text in base64: no utf8 encoding', path: ['encoding'] }),
    z.refine(p => p.ifVersion === undefined || p.ifAbsent !== true, { message: 'give ifVersion or ifAbsent, not both', path: ['ifAbsent'] })
  ),
  // conflicts: also the key's past versions that lost to a write that had not seen them (see kv_history)
  kv_get: z.strictObject({ key: Key, encoding: z.optional(ValueEncoding), conflicts: z.optional(z.boolean()) }),
  /** The key's versions this node holds, newest first: the current one, then its history. */
  kv_history: z.strictObject({ key: Key, limit: z.optional(z.int().check(z.gte(1), z.lte(MAX_LIST_LIMIT))), encoding: z.optional(ValueEncoding) }),
  /** Writes the value (and type) the key had at `version` (one of its versions in kv_history) as a new write; a delete's version deletes. */
  kv_revert: z.strictObject({ key: Key, version: z.strictObject({ origin: z.string().check(z.minLength(1), z.maxLength(128)), seq: z.int().check(z.gte(1)) }) }),
  kv_delete: z.strictObject({ key: Key, ifVersion: z.optional(ExpectedVersion) }),
  kv_list: z.strictObject({
    prefix: z.optional(Prefix),
    limit: z.optional(z.int().check(z.gte(1), z.lte(MAX_LIST_LIMIT))),
    after: z.optional(Prefix),
    encoding: z.optional(ValueEncoding)
  }),
  /**
   * `prefixes`: several at once (with `prefix`, all of them). `since`: a
   * `cursor` from an earlier event ('now': none yet): the subscription then
   * replays what changed after it (or sends a `snapshot`), then `ready`.
   */
  kv_subscribe: z.strictObject({
    prefix: z.optional(Prefix),
    prefixes: z.optional(z.array(Prefix).check(z.maxLength(MAX_WATCH_PREFIXES))),
    since: z.optional(z.union([z.int().check(z.gte(0)), z.literal('now')])),
    encoding: z.optional(ValueEncoding)
  }),
  kv_unsubscribe: z.strictObject({ subscription: z.string().check(z.minLength(1)) }),
  p2p_peers: z.strictObject({}),
  p2p_connect: z.strictObject({ addr: z.string().check(z.minLength(1), z.maxLength(1024)) }),
  node_status: z.strictObject({}),
  node_health: z.strictObject({}),
  node_version: z.strictObject({}),
  // a ticket for joining this node's group, valid for this long (at most a year)
  node_invite: z.strictObject({ expiresInMs: z.int().check(z.gte(1_000), z.lte(MAX_INVITE_MS)) }),
  // a backup is made in the daemon's data dir and read back in pieces over the same connection, which owns it
  node_backup: z.strictObject({}),
  node_backup_read: z.strictObject({
    id: BackupId,
    offset: z.int().check(z.gte(0)),
    length: z.int().check(z.gte(1), z.lte(MAX_BACKUP_CHUNK_BYTES))
  }),
  node_backup_end: z.strictObject({ id: BackupId })
} as const

export type MethodName = keyof typeof methods
export type Params<M extends MethodName> = z.infer<(typeof methods)[M]>

export function isMethodName (name: string): name is MethodName {
  return Object.hasOwn(methods, name)
}
