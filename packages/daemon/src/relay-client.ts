/**
 * Keeps a reservation on the group's relays: when a peer that serves circuit
 * relay v2 is identified over a direct connection, reserve a slot on it (up
 * to `maxRelays`), so this node gets a relayed address others can dial.
 *
 * libp2p's own way, listening on a bare `/p2p-circuit`, searches for relays
 * with a random walk that never ends while the group has none: with the DHT
 * on, that kept an idle node at 40–50% CPU. Reserving only on relays this
 * node is already connected to costs nothing while there are none, and never
 * looks outside the peers murmur dials.
 */
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { relayOf } from './reach.js'
import type { IdentifyResult, Libp2pEvents, Startable, TypedEventTarget } from '@libp2p/interface'
import type { TransportManager } from '@libp2p/interface-internal'
import type { Logger } from 'pino'

export interface RelayClientInit {
  log: Logger
  /** Relays to hold a reservation on at once. @default 2 */
  maxRelays?: number
}

export interface RelayClientComponents {
  events: TypedEventTarget<Libp2pEvents>
  transportManager: TransportManager
}

export class RelayClient implements Startable {
  private readonly pending = new Set<string>()

  constructor (private readonly components: RelayClientComponents, private readonly init: RelayClientInit) {}

  start (): void {
    this.components.events.addEventListener('peer:identify', this.onIdentify)
  }

  stop (): void {
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
  }

  /** The relays this node holds a reservation on: those its relayed listen addresses go through. */
  reserved (): Set<string> {
    return new Set(this.components.transportManager.getAddrs().map(relayOf).filter(id => id != null))
  }

  private readonly onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols, connection } = event.detail
    if (!protocols.includes(RELAY_V2_HOP_CODEC) || connection == null || relayOf(connection.remoteAddr) != null) return
    const id = peerId.toString()
    const held = new Set([...this.reserved(), ...this.pending])
    if (held.has(id) || held.size >= (this.init.maxRelays ?? 2)) return
    this.pending.add(id)
    // the relay's address as this node reached it; the reservation uses the open connection
    const at = connection.remoteAddr.toString().endsWith(`/p2p/${id}`) ? connection.remoteAddr : connection.remoteAddr.encapsulate(`/p2p/${id}`)
    this.components.transportManager.listen([at.encapsulate('/p2p-circuit')])
      .then(() => { this.init.log.info({ relay: id }, 'holding a reservation on a group relay') })
      .catch((err: Error) => { this.init.log.info({ relay: id, err: err.message }, 'the relay refused a reservation') })
      .finally(() => { this.pending.delete(id) })
  }
}

export function relayClient (init: RelayClientInit): (components: RelayClientComponents) => RelayClient {
  return components => new RelayClient(components, init)
}
