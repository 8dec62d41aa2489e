/**
 * The half of DCUtR's unilateral upgrade that @libp2p/dcutr 3 leaves out.
 *
 * DCUtR lets only the inbound side of a relayed connection dial the other's
 * public address. When a member behind NAT is the one that dialled through
 * the relay, the public member finds no public address of the dialler's,
 * its hole punch has none either, and the pair stays relayed, though the
 * member behind NAT holds the public address and could dial it (measured:
 * test/nat-direct.spec.ts). So a node with no public address of its own
 * does it: when identify over a relayed connection it opened shows the
 * peer's public addresses, it dials them, and once connected directly it
 * closes the relayed connection, as DCUtR does. A node with a public
 * address leaves it to DCUtR on the other side.
 */
import { isPrivate } from '@libp2p/utils'
import { relayOf } from './reach.js'
import type { IdentifyResult, Libp2pEvents, Startable, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager, ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'

export interface DirectUpgradeInit {
  log: Logger
  /** How long a direct dial may take. @default 10_000 */
  timeoutMs?: number
}

export interface DirectUpgradeComponents {
  events: TypedEventTarget<Libp2pEvents>
  connectionManager: ConnectionManager
  addressManager: AddressManager
}

export class DirectUpgrade implements Startable {
  constructor (private readonly components: DirectUpgradeComponents, private readonly init: DirectUpgradeInit) {}

  start (): void {
    this.components.events.addEventListener('peer:identify', this.onIdentify)
  }

  stop (): void {
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
  }

  private readonly onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { peerId, listenAddrs, connection } = event.detail
    if (connection.direction !== 'outbound' || relayOf(connection.remoteAddr) == null) return
    if (this.components.addressManager.getAddresses().some(isPublic)) return
    const targets = listenAddrs.filter(isPublic).map(addr => addr.toString().includes('/p2p/') ? addr : addr.encapsulate(`/p2p/${peerId.toString()}`))
    if (targets.length === 0) return
    const peer = peerId.toString()
    this.components.connectionManager.openConnection(targets, { force: true, signal: AbortSignal.timeout(this.init.timeoutMs ?? 10_000) })
      .then(async direct => {
        if (relayOf(direct.remoteAddr) != null) return
        this.init.log.info({ peer, addr: direct.remoteAddr.toString() }, 'dialled a peer reached through a relay directly; closing the relayed connection')
        await connection.close()
      })
      .catch(err => { this.init.log.debug({ peer, err: (err as Error).message }, 'cannot dial a peer reached through a relay directly') })
  }
}

/** An address of a node's own (not relayed) on a public IP. */
function isPublic (addr: Multiaddr): boolean {
  return relayOf(addr) == null && !isPrivate(addr)
}

export function directUpgrade (init: DirectUpgradeInit): (components: DirectUpgradeComponents) => DirectUpgrade {
  return components => new DirectUpgrade(components, init)
}
