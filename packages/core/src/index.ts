/**
 * murmur's replicated map: a hybrid logical clock, last-writer-wins merge,
 * the op codec, and SQLite and in-memory stores. No network, no logging.
 */
export type * from './types.js'
export { HybridLogicalClock, type HybridLogicalClockInit } from './hlc.js'
export { compareStamps, compareVersions, isNewer } from './compare.js'
export { encodeOps, decodeOps, signingPayload, type DecodeLimits } from './codec.js'
export { opDigest, proofPayload, proofProblem, proofSize, proveOps, DIGEST_BYTES, MAX_BATCH_OPS, MAX_BATCH_BYTES } from './proof.js'
export { SqliteStore, SCHEMA_VERSION, type Durability, type SqliteStoreInit } from './sqlite-store.js'
export { MemoryStore } from './memory-store.js'
export { Replica, type ReplicaInit } from './replica.js'
export { OpCodecError, StoreVersionError, ForeignDatabaseError, DamagedDatabaseError } from './errors.js'
