/**
 * The JSON-RPC method table: each method is defined once here, and both the
 * daemon's handlers and the client's calls are typed from it.
 *
 * Params are validated with zod schemas at the daemon; results are plain
 * TypeScript types in `results.ts` (the daemon produces them, so they need no
 * checking, and clients need not load zod to read them).
 */
import { z } from 'zod'
import { MAX_KEY_BYTES, MAX_LIST_LIMIT, RESERVED_KEY_PREFIX } from './limits.js'

/**
 * Values are bytes. On the wire `value` is a UTF-8 string unless
 * `encoding: "base64"` accompanies it. A result carries `encoding: "base64"`
 * when the stored bytes are not valid UTF-8, or when the caller asked for it.
 */
export const ValueEncoding = z.enum(['utf8', 'base64'])
export type ValueEncoding = z.infer<typeof ValueEncoding>

export const Key = z.string()
  .min(1, 'key must not be empty')
  .refine(key => !key.startsWith(RESERVED_KEY_PREFIX), 'key must not start with U+0000: those keys are murmur\'s own records')
  .refine(key => key.isWellFormed(), 'key must be valid UTF-8 (no lone surrogates)')
  .refine(key => Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES, `key must be at most ${MAX_KEY_BYTES} bytes of UTF-8`)

/** Text stored or matched as UTF-8 must be well-formed: a lone surrogate would silently become U+FFFD. */
const wellFormed = (text: string): boolean => text.isWellFormed()
const Prefix = z.string().max(MAX_KEY_BYTES).refine(wellFormed, 'must be valid UTF-8 (no lone surrogates)')

export const methods = {
  kv_put: z.strictObject({
    key: Key,
    value: z.string().refine(wellFormed, 'value must be valid UTF-8 (no lone surrogates); send binary values base64-encoded'),
    encoding: ValueEncoding.optional()
  }),
  kv_get: z.strictObject({ key: Key, encoding: ValueEncoding.optional() }),
  kv_delete: z.strictObject({ key: Key }),
  kv_list: z.strictObject({
    prefix: Prefix.optional(),
    limit: z.number().int().min(1).max(MAX_LIST_LIMIT).optional(),
    after: Prefix.optional(),
    encoding: ValueEncoding.optional()
  }),
  kv_subscribe: z.strictObject({ prefix: Prefix.optional(), encoding: ValueEncoding.optional() }),
  kv_unsubscribe: z.strictObject({ subscription: z.string().min(1) }),
  p2p_peers: z.strictObject({}),
  p2p_connect: z.strictObject({ addr: z.string().min(1).max(1024) }),
  node_status: z.strictObject({})
} as const

export type MethodName = keyof typeof methods
export type Params<M extends MethodName> = z.infer<(typeof methods)[M]>

export function isMethodName (name: string): name is MethodName {
  return Object.hasOwn(methods, name)
}
