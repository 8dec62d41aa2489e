/**
 * What attestations would cost where the model runs without them (above
 * `REAL_ATTEST_MAX` nodes, but for the churn phase: N nodes each storing N
 * attestations of N marks is N³ bytes in one process, and decoding each
 * second's N³ marks takes the model's time). The
 * size comes from the real encoder; the traffic from how many bytes the run
 * itself moved per byte published, under the same writes. Below the limit
 * both are reported, so the estimate is checked against the real thing.
 */
import { encodeAttestation, type Mark } from '@murmur/core'
import { peerId } from './fleet.js'
import { MESSAGE_OVERHEAD } from './wire.js'

/** Attestations in every phase up to this size; in the churn phase alone up to `GC_ATTEST_MAX`. */
export const REAL_ATTEST_MAX = 30
export const GC_ATTEST_MAX = 100

/** An attestation's value naming `origins` origins (seqs and stamps of a busy hour). */
export function attestationSize (origins: number, seed = 1): number {
  const marks = new Map<string, Mark>()
  for (let i = 0; i < origins; i++) marks.set(peerId(seed, i), { seq: 5_000 + i, wall: 1_700_000_000_000 + i, logical: i % 3, acc: new Uint8Array(32) })
  return encodeAttestation(marks).length
}

/** The op and message around an attestation's value: key, origin, stamps, batch proof (measured once on a real one). */
const OP_OVERHEAD = 170

/**
 * Bytes per node per second of attestations when every node attests
 * `perSecond` times a second (each has seen new writes), given the run's
 * gossip fan-out: bytes counted over all nodes per byte published.
 */
export function attestationTraffic (nodes: number, fanOut: number, perSecond = 1): number {
  return Math.round(perSecond * (MESSAGE_OVERHEAD + OP_OVERHEAD + attestationSize(nodes)) * fanOut)
}
