/**
 * `@murmur/protocol/client`: everything a client needs — the typed client,
 * the wire types, errors, framing, values and socket paths — without the zod
 * param schemas, which only the daemon uses. murmurctl imports this so that a
 * call never pays for loading zod.
 */
export * from './errors.js'
export * from './limits.js'
export * from './results.js'
export type { ExpectedVersion, MethodName, Params, ValueEncoding, ValueType } from './methods.js'
export * from './framing.js'
export * from './socket-path.js'
export * from './client.js'
export * from './values.js'
export * from './json-text.js'
export * from './swarm-key.js'
