/**
 * murmur's replicated map and its replication core: a hybrid logical clock,
 * last-writer-wins merge, the op codec, SQLite and in-memory stores, and the
 * network-free replica that decides what to take, hold, collect, ask for and
 * serve. No network, no logging, no real clock of its own.
 */
export type * from './types.js'
export { HybridLogicalClock, type HybridLogicalClockInit } from './hlc.js'
export { beats, compareStamps, compareVersions, compareUtf8, headOf, isNewer } from './compare.js'
export { encodeOps, decodeOps, type DecodeLimits } from './codec.js'
export { signingPayload } from './signing-payload.js'
export { opDigest, proofPayload, proofProblem, proofSize, proveOps, DIGEST_BYTES, MAX_BATCH_OPS, MAX_BATCH_BYTES } from './proof.js'
export { EMPTY_ACC, digestOf, seqOf, xorInto } from './marks.js'
export { RESERVED_PREFIX, USER_KEYS_FROM, attestationKey, attestationOwner, isReserved } from './keys.js'
export { ATTEST_MS_PER_ORIGIN, attestEvery, attestIntervalFor, attestMsPerOriginFor, decodeAttestation, encodeAttestation, type Attestation } from './attestation.js'
export { SqliteStore, SCHEMA_VERSION, type Durability, type SqliteStoreInit } from './store/sqlite-store.js'
export { kvStoreDigest } from './store/kv-digest.js'
export { MemoryStore } from './store/memory-store.js'
export { REHAND_MS, Replica, type ReplicaInit, type ReplicaStatus } from './replica/replica.js'
export type { ReceiveContext, Received } from './replica/inbound.js'
export { sizeOf as pendingSize } from './replica/pending.js'
export type { Collected } from './replica/collect.js'
export { compareSeen, concurrent, nothingSeen, seenKind } from './replica/conflicts.js'
export type { HistoryBound } from './replica/history.js'
export { OpChecker, type Refusal, type RefusalKind, type VerifyBatch } from './replica/checker.js'
export { serve, isBehind, type ServeInit } from './sync/serve.js'
export { claimOf, IN_FLIGHT_OPS, inFlight, summarize, totalOf } from './sync/hello.js'
export { PullSession, STALE_MS, STALE_OPS, type PullInit, type PullResult, type PullStep } from './sync/pull.js'
export { FORGET_BEHIND_MS, STUCK_MS } from './replica/snapshot-gate.js'
export { PullQueue, type PullQueueInit } from './sync/pull-queue.js'
export { AntiEntropyPace, lacks, maxIntervalFor, type AntiEntropyPaceInit } from './sync/anti-entropy-pace.js'
export { chunkByBatch, chunkByBytes, payloadSize } from './sync/chunk.js'
export { SYNC_PROTOCOL, SYNC_PROTOCOL_3_0, SyncProtocolError, SyncRejectedError, decodeFrame, encodeFrame, type Control, type Frame, type Hello, type OpsKind } from './sync/messages.js'
export { OpCodecError, StoreVersionError, ForeignDatabaseError, DamagedDatabaseError } from './errors.js'
