/**
 * How this node and its peers reach each other, for `status` and `peers`:
 * whether the node can be dialled from other networks, which group relays it
 * holds a reservation on, and whether each peer's connection is direct or
 * relayed (and through which relay).
 */
import { isPrivate } from '@libp2p/utils'
import type { ReachStatus } from '@murmur/protocol'
import type { MurmurLibp2p } from './libp2p-node.js'
import type { Connection } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const CIRCUIT = '/p2p-circuit'

/** The relay a relayed address or connection goes through: the peer ID just before `/p2p-circuit`. */
export function relayOf (addr: Multiaddr | string): string | undefined {
  const text = addr.toString()
  const circuit = text.indexOf(CIRCUIT)
  if (circuit < 0) return undefined
  return /\/p2p\/([^/]+)$/.exec(text.slice(0, circuit))?.[1]
}

/**
 * `public`: the node announces an address of its own (not relayed) on a
 * public IP: a listen address there, or an observed one that AutoNAT had
 * members dial back. `private`: all its own addresses are private (a LAN,
 * or behind NAT), so other networks reach it only through a relay.
 * `unknown`: it has no address of its own yet.
 */
export function reachOf (libp2p: MurmurLibp2p): ReachStatus {
  const addrs = libp2p.getMultiaddrs()
  const own = addrs.filter(addr => relayOf(addr) == null)
  const reachability = own.length === 0 ? 'unknown' : own.some(addr => !isPrivate(addr)) ? 'public' : 'private'
  const relays = [...new Set(addrs.map(relayOf).filter(id => id != null))]
  const reservations = libp2p.services.relay?.reservations.size
  return { reachability, relays, ...(reservations != null ? { relayServer: { reservations } } : {}) }
}

/** Direct when any connection to the peer is; else relayed, through the relay of the first. */
export function connectionKind (connections: Connection[]): { connection?: 'direct' | 'relayed', relay?: string } {
  if (connections.length === 0) return {}
  if (connections.some(c => relayOf(c.remoteAddr) == null)) return { connection: 'direct' }
  const relay = relayOf(connections[0]?.remoteAddr as Multiaddr)
  return { connection: 'relayed', ...(relay != null ? { relay } : {}) }
}
