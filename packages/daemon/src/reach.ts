/**
 * How this node and its peers reach each other, for `status` and `peers`:
 * whether the node can be dialled from other networks, which group relays it
 * holds a reservation on, and whether each peer's connection is direct or
 * relayed (and through which relay).
 */
import { isLoopback, isPrivate } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { ReachStatus } from '@murmur/protocol'
import type { MurmurLibp2p } from './libp2p-node.js'
import type { Connection } from '@libp2p/interface'
import type { TransportManager } from '@libp2p/interface-internal'

const CIRCUIT = '/p2p-circuit'

/** The relay a relayed address or connection goes through: the peer ID just before `/p2p-circuit`. */
export function relayOf (addr: Multiaddr | string): string | undefined {
  const text = addr.toString()
  const circuit = text.indexOf(CIRCUIT)
  if (circuit < 0) return undefined
  return /\/p2p\/([^/]+)$/.exec(text.slice(0, circuit))?.[1]
}

/**
 * The addresses a node gives out (status, banner, tickets): those libp2p
 * announces, then the ones it listens on that it does not announce yet. A
 * public address is announced only once AutoNAT had a member dial it back,
 * which a group's first node (a hub on a cloud VM) cannot get: without the
 * listening ones its tickets would hold 127.0.0.1. Loopback addresses only
 * when there is nothing else.
 */
export function ownAddrs (libp2p: MurmurLibp2p): string[] {
  const self = `/p2p/${libp2p.peerId.toString()}`
  const listening = libp2p.services.addresses.listening().filter(addr => relayOf(addr) == null).map(addr => addr.encapsulate(self))
  const all = [...new Set([...libp2p.getMultiaddrs(), ...listening].map(String))]
  const external = all.filter(addr => !isLoopback(multiaddr(addr)))
  return external.length > 0 ? external : all
}

/**
 * `public`: the node announces an address of its own (not relayed) on a
 * public IP: one AutoNAT had a member dial back. `unknown`: it listens on a
 * public address nobody has dialled back yet, or has no address of its own.
 * `private`: all its own addresses are private (a LAN, or behind NAT), so
 * other networks reach it only through a relay.
 */
export function reachOf (libp2p: MurmurLibp2p): ReachStatus {
  const addrs = libp2p.getMultiaddrs()
  const announced = addrs.filter(addr => relayOf(addr) == null)
  const listening = libp2p.services.addresses.listening().filter(addr => relayOf(addr) == null)
  const reachability = announced.some(addr => !isPrivate(addr))
    ? 'public'
    : listening.some(addr => !isPrivate(addr)) || announced.length === 0 ? 'unknown' : 'private'
  const relays = [...new Set(addrs.map(relayOf).filter(id => id != null))]
  const reservations = libp2p.services.relay?.reservations.size
  return { reachability, relays, ...(reservations != null ? { relayServer: { reservations } } : {}) }
}

/** A libp2p service that says which addresses the node listens on (libp2p itself says only which it announces). */
export class ListenAddresses {
  constructor (private readonly components: { transportManager: TransportManager }) {}

  listening (): Multiaddr[] {
    return this.components.transportManager.getAddrs()
  }
}

export function listenAddresses (): (components: { transportManager: TransportManager }) => ListenAddresses {
  return components => new ListenAddresses(components)
}

/** Direct when any connection to the peer is; else relayed, through the relay of the first. */
export function connectionKind (connections: Connection[]): { connection?: 'direct' | 'relayed', relay?: string } {
  if (connections.length === 0) return {}
  if (connections.some(c => relayOf(c.remoteAddr) == null)) return { connection: 'direct' }
  const relay = relayOf(connections[0]?.remoteAddr as Multiaddr)
  return { connection: 'relayed', ...(relay != null ? { relay } : {}) }
}
