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
import { setTimeout as sleep } from 'node:timers/promises'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { relayOf } from './reach.js'
import type { IdentifyResult, Libp2pEvents, Startable, TypedEventTarget } from '@libp2p/interface'
import type { TransportManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
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
  private stopped = new AbortController()

  constructor (private readonly components: RelayClientComponents, private readonly init: RelayClientInit) {}

  start (): void {
    this.stopped = new AbortController()
    this.components.events.addEventListener('peer:identify', this.onIdentify)
  }

  stop (): void {
    this.stopped.abort()
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
    this.reserve(id, at.encapsulate('/p2p-circuit'))
      .finally(() => { this.pending.delete(id) })
  }

  /**
   * A few tries, a second or more apart: the relay transport's own discovery
   * sees the same identify and queues a reservation on the relay that fails
   * at once ("do not need any more relays"), and a listen in the meantime
   * joins that failing attempt instead of making its own.
   */
  private async reserve (relay: string, addr: Multiaddr): Promise<void> {
    for (let attempt = 1; attempt <= RESERVE_ATTEMPTS; attempt++) {
      try {
        await this.components.transportManager.listen([addr])
        this.init.log.info({ relay }, 'holding a reservation on a group relay')
        return
      } catch (err) {
        const last = attempt === RESERVE_ATTEMPTS
        this.init.log[last ? 'info' : 'debug']({ relay, attempt, err: (err as Error).message.split('\n').find(line => line.includes('Error')) ?? (err as Error).message }, last ? 'no reservation on the relay' : 'reservation failed; trying again')
        if (last || this.stopped.signal.aborted) return
        await sleep(attempt * 1_000, undefined, { signal: this.stopped.signal }).catch(() => {})
      }
    }
  }
}

const RESERVE_ATTEMPTS = 3

export function relayClient (init: RelayClientInit): (components: RelayClientComponents) => RelayClient {
  return components => new RelayClient(components, init)
}
