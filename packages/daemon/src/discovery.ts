/**
 * Finding peers: explicit `--peer` addresses, the peer book, mDNS on the LAN,
 * and the group's private DHT. js-libp2p does not dial discovered peers by
 * itself: the peer book's members and those discovered are offered to the
 * dialer, which dials them up to `--peer-links` links (see peer-dialer.ts).
 * This remembers how each peer was found.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { PeerBook, type PeerSource } from './peer-book.js'
import { PeerDialer } from './peer-dialer.js'
import { withoutLoopback, type MurmurLibp2p } from './libp2p-node.js'
import type { PeerDiscovery, PeerId, PeerInfo } from '@libp2p/interface'
import type { Logger } from 'pino'

export interface DiscoveryInit {
  dataDir: string
  /** `--peer` addresses to keep connected. */
  peers: string[]
  /** Peers this node dials itself, from the peer book and discovery, at most (see peer-dialer.ts). @default 8 */
  peerLinks?: number
  /** See `PeerDialerInit.rotateMs`. */
  peerRotateMs?: number
  log: Logger
}

export class Discovery {
  private readonly libp2p: MurmurLibp2p
  private readonly init: DiscoveryInit
  private readonly book: PeerBook
  private readonly dialer: PeerDialer
  private readonly via = new Map<string, PeerSource>()

  constructor (libp2p: MurmurLibp2p, init: DiscoveryInit) {
    this.libp2p = libp2p
    this.init = init
    this.book = new PeerBook(init.dataDir, init.log)
    this.dialer = new PeerDialer(libp2p, { log: init.log, ...(init.peerLinks !== undefined ? { links: init.peerLinks } : {}), ...(init.peerRotateMs !== undefined ? { rotateMs: init.peerRotateMs } : {}) })
  }

  start (): void {
    this.libp2p.addEventListener('connection:open', event => {
      const connection = event.detail
      const id = connection.remotePeer.toString()
      // mDNS, DHT and peer-book dials note their source first; any other dial was asked for
      if (!this.via.has(id)) this.via.set(id, connection.direction === 'inbound' ? 'inbound' : 'explicit')
    })
    this.libp2p.services.mdns?.addEventListener('peer', event => { this.discovered(event.detail, 'mdns') })
    // KadDHT emits 'peer' for every peer its queries find, though its type does not say so
    const dht = this.libp2p.services.dht as unknown as PeerDiscovery | undefined
    dht?.addEventListener('peer', event => { this.discovered(event.detail, 'dht') })
    for (const addr of this.init.peers) this.dialer.add(multiaddr(addr))
    for (const entry of this.book.list()) {
      const peer = peerIdFromString(entry.id)
      if (peer.equals(this.libp2p.peerId)) continue
      this.via.set(entry.id, entry.via === 'ticket' ? 'ticket' : 'peerbook')
      // a relay, and the member a ticket named, are dialled whatever the bound: a node behind NAT reaches the group through them
      void this.libp2p.peerStore.merge(peer, { multiaddrs: entry.addrs.map(a => multiaddr(a)) })
        .then(() => { this.dialer.offer(peer, entry.relay === true || entry.via === 'ticket') })
    }
  }

  async stop (): Promise<void> {
    await this.dialer.stop()
    this.book.flush()
  }

  /** Dials a member once, whatever `--peer-links` says: a pull from it is due that no link can make (anti-entropy's recheck). */
  visit (peer: string): void {
    if (peer !== this.libp2p.peerId.toString()) this.dialer.visit(peerIdFromString(peer))
  }

  /** Whether the peer book knows this peer as a group member. */
  isKnown (peer: string): boolean {
    return this.book.get(peer) != null
  }

  /** The name a peer gave when it last completed the handshake, if the peer book holds it. */
  nameOf (peer: string): string | undefined {
    return this.book.get(peer)?.name
  }

  /** How a peer was found, if we know. */
  source (peer: string): PeerSource | undefined {
    return this.via.get(peer)
  }

  /** A group member completed the handshake: remember where it listens. */
  async remember (peer: PeerId, name: string): Promise<void> {
    let addrs: string[] = []
    let relay = false
    try {
      const known = await this.libp2p.peerStore.get(peer)
      // loopback ones only when it has no other (a member on this host alone): as it announces them
      addrs = withoutLoopback(known.addresses.map(a => a.multiaddr)).map(String)
      relay = known.protocols.includes(RELAY_V2_HOP_CODEC)
    } catch {}
    if (addrs.length === 0) {
      addrs = this.libp2p.getConnections(peer).filter(c => c.direction === 'outbound').map(c => c.remoteAddr.decapsulateCode(421).toString())
    }
    this.book.remember({ id: peer.toString(), name, addrs, via: this.via.get(peer.toString()) ?? 'inbound', ...(relay ? { relay } : {}) })
  }

  private discovered (info: PeerInfo, source: PeerSource): void {
    if (info.id.equals(this.libp2p.peerId)) return
    const id = info.id.toString()
    if (!this.via.has(id)) this.via.set(id, source)
    const merged = info.multiaddrs.length > 0 ? this.libp2p.peerStore.merge(info.id, { multiaddrs: info.multiaddrs }) : Promise.resolve()
    merged.catch(err => { this.init.log.debug({ peer: id, source, err: err.message }, 'cannot note a discovered peer\'s addresses') })
      .finally(() => { this.dialer.offer(info.id) })
  }
}
