/**
 * What the node says about its peers (`p2p_peers`) and how it dials one by
 * address (`p2p_connect`).
 */
import { multiaddr } from '@multiformats/multiaddr'
import { rpcError, type PeerInfo } from '@murmur/protocol'
import type { Discovery } from './discovery.js'
import { connectionKind } from './reach.js'
import type { MurmurLibp2p } from './libp2p-node.js'
import type { PeerId } from '@libp2p/interface'

/**
 * A connected peer: its addresses, membership and name from the sync
 * handshake, how it was found, direct or relayed, and for a member whether
 * gossip reaches it and whether it is in this node's gossip mesh (`gossip`).
 */
export function summarisePeer (libp2p: MurmurLibp2p, discovery: Discovery, members: ReadonlyMap<string, string>, peer: PeerId, gossip: { hears(peer: string): boolean, inMesh(peer: string): boolean }): PeerInfo {
  const id = peer.toString()
  const name = members.get(id)
  const connections = libp2p.getConnections(peer)
  const addrs = connections.map(c => c.remoteAddr.toString())
  const via = discovery.source(id)
  const dialled = connections.some(c => c.direction === 'outbound')
  return { id, addrs, member: name != null, ...(name != null ? { name, gossip: gossip.hears(id), mesh: gossip.inMesh(id) } : {}), ...(via != null ? { via } : {}), dialled, ...connectionKind(connections) }
}

/** Dials a multiaddr once (10 s at most) and resolves to the peer's ID; errors are `InvalidParams` or `Dial`. */
export async function dialAddress (libp2p: MurmurLibp2p, addr: string, options: { signal?: AbortSignal } = {}): Promise<string> {
  let ma
  try {
    ma = multiaddr(addr)
  } catch (err) {
    throw rpcError('InvalidParams', `not a multiaddr: ${addr} (${(err as Error).message})`)
  }
  try {
    const signal = AbortSignal.any([AbortSignal.timeout(10_000), ...(options.signal != null ? [options.signal] : [])])
    const connection = await libp2p.dial(ma, { signal })
    return connection.remotePeer.toString()
  } catch (err) {
    throw rpcError('Dial', `cannot connect to ${addr}: ${(err as Error).message}`)
  }
}
