/**
 * Who connects to whom, and how far apart they are.
 *
 * `random`: each node dials `dials` peers drawn from the seed (as a node
 * told a few addresses, or a peer book sample, would), and accepts at most
 * `maxPeers` connections in all, the rest refused as a connection manager's
 * limit would. murmurd's dialer keeps every peer-book member connected, which
 * at a thousand members is a thousand connections per node: a fleet that
 * size needs a bound, and 8 dials (about 16 connections a node) keeps the
 * graph connected with room for gossipsub's D_hi = 12.
 *
 * `tree`: bench/lib/cluster.mjs's topology (node i dials its parent in a
 * binary tree and the parent's left neighbour), to compare with real runs.
 *
 * Latency is fixed per link (from the seed), 10–150 ms one way by default.
 */
import type { Rng } from '../rng.js'

export interface TopologyInit {
  kind: 'random' | 'tree'
  dials: number
  maxPeers: number
  /** One-way latency range per link, ms. */
  latency: [number, number]
}

/** The earlier nodes node i dials in the bench's tree (cluster.mjs `peersOf`). */
export function treePeers (i: number): number[] {
  if (i === 0) return []
  const parent = Math.floor((i - 1) / 2)
  return [...new Set([parent, Math.max(0, parent - 1)])]
}

/** Node i's dial targets (indices), however many it connects to in the end. */
export function dialTargets (init: TopologyInit, n: number, i: number, rng: Rng): number[] {
  if (init.kind === 'tree') return treePeers(i)
  const wanted = Math.min(init.dials, n - 1)
  const out = new Set<number>()
  for (let tries = 0; out.size < wanted && tries < wanted * 20; tries++) {
    const j = rng.int(0, n - 1)
    if (j !== i) out.add(j)
  }
  return [...out]
}

/** Fixed one-way latency of the link a–b (ms, fractional), the same whichever end asks. */
export function linkLatency (seed: number, a: number, b: number, [low, high]: [number, number]): number {
  const lo = Math.min(a, b)
  const hi = Math.max(a, b)
  let h = (seed ^ Math.imul(lo + 1, 0x9e3779b1) ^ Math.imul(hi + 1, 0x85ebca6b)) >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0
  h = (h ^ (h >>> 16)) >>> 0
  return low + (high - low) * (h / 4294967296)
}
