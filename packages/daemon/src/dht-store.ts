/**
 * libp2p's datastore (memory only), without what the DHT would keep for
 * any peer that asks.
 *
 * murmur asks its group's DHT for peers and nothing else: it never provides
 * content and never reads a value record. Yet Kademlia stores a provider
 * record from any peer for any key it names (ADD_PROVIDER: each peer may
 * name itself the provider of as many keys as it likes), and a value record
 * under any key a validator accepts (PUT_VALUE: a public key under the hash
 * of itself, and keys cost nothing to make). In an open group a stranger
 * could grow a node's memory with them for as long as it went on. Here
 * neither is kept: a put under `/dht/provider/` or `/dht/record/` stores
 * nothing, and a GET_PROVIDERS or GET_VALUE finds none.
 *
 * A peer's record in the peer store (its addresses and protocols, under
 * `/peers/`) is kept only up to `MAX_PEER_RECORD_BYTES`: an ADD_PROVIDER
 * merges the addresses its sender lists for itself, as many as a DHT message
 * holds, and every such message could add more. Past the bound the update
 * is dropped and the record stays as it was.
 *
 * And peers' records are kept only up to `MAX_PEER_RECORDS` and
 * `MAX_PEER_RECORDS_BYTES`, besides those
 * of the peers the node keeps (`keep`: those it is connected to and the
 * members its peer book knows). Every peer a DHT answer names is taken as
 * discovered, and libp2p keeps a record of each, for as long as addresses
 * live (the peer book's 30 days): one stranger's answer to a query named
 * 20,000 made-up peers in 1.1 MB, and murmurd's memory grew by 340 MB.
 * Past the bound, the records put longest ago go first.
 */
import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'

/** The keys the DHT keeps for others (provider and value records), which murmur never reads. */
const UNUSED = ['/dht/provider/', '/dht/record/']

/** The most a peer's record in the peer store may take: an honest one (a few addresses, its protocols) takes 1-2 KiB. */
export const MAX_PEER_RECORD_BYTES = 64 * 1024

/** The most records of peers the node does not keep (`PeersOnlyDatastore.keep`), and their most bytes. */
export const MAX_PEER_RECORDS = 1024
export const MAX_PEER_RECORDS_BYTES = 8 * 1024 * 1024
/** Records past the bound before the oldest go, all at once: what is kept is worked out once per this many. */
const EVICT_EVERY = 64

const PEERS = '/peers/'

/** A peer's key in libp2p's peer store (as @libp2p/peer-store names it). */
export function peerRecordKey (peer: { toCID: () => { toString: () => string } }): string {
  return `${PEERS}${peer.toCID().toString()}`
}

export class PeersOnlyDatastore extends MemoryDatastore {
  /** Puts refused, by why: a DHT record murmur never reads, or a peer record past its bound. */
  readonly refused = { dht: 0, peer: 0 }
  /** The keys (`peerRecordKey`) of the peers whose records are never forgotten for room; the node sets it once it knows them. */
  keep: () => Set<string> = () => new Set()
  /** Peers' records held and their bytes, the one put longest ago first. */
  private readonly peers = new Map<string, number>()
  private bytes = 0
  private readonly maxPeers: number
  private readonly maxBytes: number
  /** Records held past the bound before the next look: `EVICT_EVERY` more than the kept ones last time. */
  private room = EVICT_EVERY
  private roomBytes = 0

  constructor (maxPeers = MAX_PEER_RECORDS, maxBytes = MAX_PEER_RECORDS_BYTES) {
    super()
    this.maxPeers = maxPeers
    this.maxBytes = maxBytes
  }

  /** Peers' records held. */
  get peerRecords (): number {
    return this.peers.size
  }

  override put (key: Key, value: Uint8Array, options?: { signal?: AbortSignal }): Key | Promise<Key> {
    const name = key.toString()
    if (UNUSED.some(prefix => name.startsWith(prefix))) {
      this.refused.dht++
      return key
    }
    if (!name.startsWith(PEERS)) return super.put(key, value, options)
    if (value.byteLength > MAX_PEER_RECORD_BYTES) {
      this.refused.peer++
      return key
    }
    const done = super.put(key, value, options)
    this.forget(name)
    this.peers.set(name, value.byteLength)
    this.bytes += value.byteLength
    if (this.peers.size >= this.maxPeers + this.room || this.bytes > this.maxBytes + this.roomBytes) this.makeRoom()
    return done
  }

  override delete (key: Key, options?: { signal?: AbortSignal }): void | Promise<void> {
    this.forget(key.toString())
    return super.delete(key, options)
  }

  private forget (name: string): void {
    this.bytes -= this.peers.get(name) ?? 0
    this.peers.delete(name)
  }

  /** Forgets the records put longest ago, of peers not kept, down to the bound. */
  private makeRoom (): void {
    const kept = this.keep()
    let records = -this.maxPeers
    let bytes = -this.maxBytes
    for (const [name, size] of this.peers) {
      if (!kept.has(name)) { records++; bytes += size }
    }
    for (const [name, size] of this.peers) {
      if (records <= 0 && bytes <= 0) break
      if (kept.has(name)) continue
      records--
      bytes -= size
      this.forget(name)
      void super.delete(new Key(name))
    }
    // many kept (a large group's members): look again only once EVICT_EVERY more are held, not at every put
    this.room = this.peers.size - this.maxPeers + EVICT_EVERY
    this.roomBytes = Math.max(0, this.bytes - this.maxBytes) + EVICT_EVERY * 1024
  }
}
