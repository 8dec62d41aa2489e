/**
 * AutoNAT (v1, `@libp2p/autonat`) whose dial-backs open a connection of their
 * own.
 *
 * @libp2p/autonat 3's server checks an address by dialling it with
 * `openConnection(addr)`. Without `force`, libp2p hands back the connection
 * already open to that peer (the one the request came on), and the server
 * then closes the connection it got: the asking peer is cut off, redials and
 * asks again. Measured in network namespaces on public addresses
 * (test/nat-direct.spec.ts): a member's connection to the relay dropped every
 * ~200 ms and no address was ever confirmed. A dial to one multiaddr, which
 * only the dial-back makes, is forced here, so the server dials the address
 * for real and closes only that new connection.
 */
import { autoNAT, type AutoNATComponents } from '@libp2p/autonat'
import { isMultiaddr } from '@multiformats/multiaddr'
import type { ConnectionManager } from '@libp2p/interface-internal'

export function groupAutoNAT (): (components: AutoNATComponents) => unknown {
  const create = autoNAT()
  return components => create(new Proxy(components, {
    get: (target, key) => key === 'connectionManager' ? freshDialBacks(target.connectionManager) : Reflect.get(target, key)
  }))
}

/** The connection manager, with a dial to a single multiaddr always opening a new connection. */
export function freshDialBacks (manager: ConnectionManager): ConnectionManager {
  return new Proxy(manager, {
    get: (target, key) => {
      if (key !== 'openConnection') {
        const value = Reflect.get(target, key)
        return typeof value === 'function' ? value.bind(target) : value
      }
      const open: ConnectionManager['openConnection'] = async (peer, options = {}) =>
        await target.openConnection(peer, isMultiaddr(peer) ? { ...options, force: true } : options)
      return open
    }
  })
}
