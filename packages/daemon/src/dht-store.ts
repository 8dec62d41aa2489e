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
 */
import { MemoryDatastore } from 'datastore-core'
import type { Key } from 'interface-datastore'

/** The keys the DHT keeps for others (provider and value records), which murmur never reads. */
const UNUSED = ['/dht/provider/', '/dht/record/']

/** The most a peer's record in the peer store may take: an honest one (a few addresses, its protocols) takes 1-2 KiB. */
export const MAX_PEER_RECORD_BYTES = 64 * 1024

export class PeersOnlyDatastore extends MemoryDatastore {
  /** Puts refused, by why: a DHT record murmur never reads, or a peer record past its bound. */
  readonly refused = { dht: 0, peer: 0 }

  override put (key: Key, value: Uint8Array, options?: { signal?: AbortSignal }): Key | Promise<Key> {
    const name = key.toString()
    if (UNUSED.some(prefix => name.startsWith(prefix))) {
      this.refused.dht++
      return key
    }
    if (name.startsWith('/peers/') && value.byteLength > MAX_PEER_RECORD_BYTES) {
      this.refused.peer++
      return key
    }
    return super.put(key, value, options)
  }
}
