/**
 * The dialer's bounds on candidates the peer book does not know as members
 * (found by mDNS or the DHT): a DHT answer may name thousands of peers, made
 * up. At most `MAX_STRANGERS` wait at a time; past it, one goes for each
 * that comes: the one that failed most, then the one offered longest ago
 * (members never go). They are dialled at most `STRANGER_DIALS_PER_SECOND`,
 * after a first few at once: a stranger's answers had a node dial ~100
 * made-up peers a second, wherever their addresses pointed (its LAN), each a
 * warning in its log (dht-peers.spec).
 */

/** The most candidates at a time that the peer book does not know as members. */
export const MAX_STRANGERS = 256
/** Dials a second of candidates the peer book does not know, after a burst of the dialer's links at once. */
export const STRANGER_DIALS_PER_SECOND = 1

/** What a candidate is to these bounds. */
export interface Bounded { member: boolean, always: boolean, failures: number }

/**
 * Whether one more stranger fits among `candidates` (in the order they were
 * offered), and which one goes to make room: never one that `busy` (being
 * dialled, or connected). No room when `MAX_STRANGERS` wait and all are busy.
 */
export function roomForStranger<C extends Bounded> (candidates: Map<string, C>, busy: (id: string, candidate: C) => boolean): { room: boolean, drop?: string } {
  let strangers = 0
  let drop: [string, C] | undefined
  for (const entry of candidates) {
    const [id, candidate] = entry
    if (candidate.member || candidate.always) continue
    strangers++
    if (busy(id, candidate)) continue
    // the one that failed most; of those, the one offered longest ago (the first in the map)
    if (drop === undefined || candidate.failures > drop[1].failures) drop = entry
  }
  if (strangers < MAX_STRANGERS) return { room: true }
  return drop === undefined ? { room: false } : { room: true, drop: drop[0] }
}
