/**
 * Finding peers: explicit `--peer` addresses, the peer book, mDNS on the LAN,
 * and the group's private DHT. js-libp2p does not dial discovered peers by
 * itself: the peer book's members and those discovered are offered to the
 * dialer, which dials them up to `--peer-links` links (see peer-dialer.ts).
 * This remembers how each peer was found.
 *
 * What discovery names is a claim: a DHT answer may name thousands of peers
 * that do not exist. Of peers neither connected nor known as members, this
 * node keeps at most `MAX_STRANGERS` dial candidates (strangers.ts),
 * `MAX_PEER_RECORDS` records in libp2p's peer store (dht-store.ts) and
 * `MAX_FOUND` notes of how they were found.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { PeerBook, type PeerSource } from './peer-book.js'
import { PeerDialer } from './peer-dialer.js'
import { peerRecordKey } from './dht-store.js'
import { peerRecordsOf, withoutLoopback, type MurmurLibp2p } from './libp2p-node.js'
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

/** The most notes of how peers not connected were found. */
export const MAX_FOUND = 1024

export class Discovery {
  private readonly libp2p: MurmurLibp2p
  private readonly init: DiscoveryInit
  private readonly book: PeerBook
  private readonly dialer: PeerDialer
  private readonly via = new Map<string, PeerSource>()
  /** Peer-store keys of the peer book's members, worked out once each. */
  private readonly bookKeys = new Map<string, string>()

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
        .then(() => { this.dialer.offer(peer, { always: entry.relay === true || entry.via === 'ticket', member: true }) })
    }
    const records = peerRecordsOf(this.libp2p)
    if (records !== undefined) records.keep = () => this.keptRecords()
  }

  /** Peers found and not connected, dial candidates, and peer-store records held (each bounded for peers that are neither connected nor members). */
  get held (): { found: number, candidates: number, records: number } {
    return { found: this.via.size, candidates: this.dialer.size, records: peerRecordsOf(this.libp2p)?.peerRecords ?? 0 }
  }

  /** The peer-store keys of the peers whose records stay: this node's, those connected, the peer book's members. */
  private keptRecords (): Set<string> {
    const keys = new Set([peerRecordKey(this.libp2p.peerId)])
    for (const connection of this.libp2p.getConnections()) keys.add(peerRecordKey(connection.remotePeer))
    for (const entry of this.book.list()) {
      let key = this.bookKeys.get(entry.id)
      if (key === undefined) {
        try { key = peerRecordKey(peerIdFromString(entry.id)) } catch { continue }
        this.bookKeys.set(entry.id, key)
      }
      keys.add(key)
    }
    return keys
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
    const member = this.book.get(id) !== undefined
    if (!this.via.has(id)) this.found(id, source)
    const merged = info.multiaddrs.length > 0 ? this.libp2p.peerStore.merge(info.id, { multiaddrs: info.multiaddrs }) : Promise.resolve()
    merged.catch(err => { this.init.log.debug({ peer: id, source, err: err.message }, 'cannot note a discovered peer\'s addresses') })
      .finally(() => { this.dialer.offer(info.id, { member }) })
  }

  /** Notes how a peer was found; past `MAX_FOUND`, forgets the oldest notes of peers neither connected nor members. */
  private found (id: string, source: PeerSource): void {
    this.via.set(id, source)
    if (this.via.size <= MAX_FOUND + this.book.size + 64) return
    const connected = new Set(this.libp2p.getConnections().map(c => c.remotePeer.toString()))
    let over = this.via.size - MAX_FOUND - this.book.size
    for (const known of this.via.keys()) {
      if (over <= 0) break
      if (known === id || connected.has(known) || this.book.get(known) !== undefined) continue
      this.via.delete(known)
      over--
    }
  }
}
