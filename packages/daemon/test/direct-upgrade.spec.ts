/**
 * The direct upgrade with stubbed components (no network): a node with no
 * public address that reached a peer through a relay dials the peer's public
 * addresses and then closes the relayed connection; it leaves alone inbound
 * and direct connections, peers with private addresses only, and everything
 * when it has a public address itself (DCUtR's unilateral upgrade, on the
 * other side, covers that).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { pino } from 'pino'
import { DirectUpgrade } from '../src/direct-upgrade.js'
import { waitFor } from './harness.js'
import type { IdentifyResult, Libp2pEvents, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager, ConnectionManager } from '@libp2p/interface-internal'

const PEER = '12D3KooWE4aK6nUwyAX6U7q5FaL2s1HXxPxfpLxc4R3gHpP6BELu'
const RELAY = '12D3KooWJJ4qgzZJfMNkC6b1yA2cCXVX9XPhAiB2cEoRZxaTAiLH'
const RELAYED = `/ip6/3fff::10/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`
const PUBLIC = '/ip6/3fff::20/tcp/4001'

function rig (ownAddrs: string[]): { identify: (remoteAddr: string, direction: string, listenAddrs: string[]) => void, dialled: string[][], closed: () => number } {
  const events = new EventTarget() as unknown as TypedEventTarget<Libp2pEvents>
  const dialled: string[][] = []
  let closed = 0
  const connectionManager = {
    openConnection: async (addrs: Multiaddr[], options: { force?: boolean }) => {
      assert.equal(options.force, true, 'a new connection, not the relayed one')
      dialled.push(addrs.map(String))
      return { remoteAddr: addrs[0] }
    }
  } as unknown as ConnectionManager
  const addressManager = { getAddresses: () => ownAddrs.map(a => multiaddr(a)) } as unknown as AddressManager
  const upgrade = new DirectUpgrade({ events, connectionManager, addressManager }, { log: pino({ level: 'silent' }) })
  upgrade.start()
  return {
    dialled,
    closed: () => closed,
    identify: (remoteAddr, direction, listenAddrs) => {
      const connection = { remoteAddr: multiaddr(remoteAddr), direction, close: async () => { closed++ } }
      const detail = { peerId: peerIdFromString(PEER), listenAddrs: listenAddrs.map(a => multiaddr(a)), connection } as unknown as IdentifyResult
      events.dispatchEvent(new CustomEvent('peer:identify', { detail }))
    }
  }
}

describe('direct upgrade of a relayed connection this node opened', () => {
  it('behind NAT, dials the peer\'s public addresses and closes the relayed connection', async () => {
    const node = rig(['/ip6/fd00::2/tcp/4001', `/ip6/3fff::10/tcp/4001/p2p/${RELAY}/p2p-circuit`])
    node.identify(RELAYED, 'outbound', [PUBLIC, '/ip6/fd00::9/tcp/4001', `/ip6/3fff::10/tcp/4001/p2p/${RELAY}/p2p-circuit`])
    await waitFor(() => node.closed() === 1, 'the relayed connection to close', 2_000)
    assert.deepEqual(node.dialled, [[`${PUBLIC}/p2p/${PEER}`]])
  })

  it('leaves inbound and direct connections, and peers with no public address, alone', async () => {
    const node = rig(['/ip6/fd00::2/tcp/4001'])
    node.identify(RELAYED, 'inbound', [PUBLIC])
    node.identify(`${PUBLIC}/p2p/${PEER}`, 'outbound', [PUBLIC])
    node.identify(RELAYED, 'outbound', ['/ip6/fd00::9/tcp/4001', '/ip4/127.0.0.1/tcp/4001'])
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(node.dialled, [])
  })

  it('does nothing on a node with a public address of its own: DCUtR\'s upgrade from the other side covers it', async () => {
    const node = rig(['/ip6/3fff::30/tcp/4001'])
    node.identify(RELAYED, 'outbound', [PUBLIC])
    await new Promise(resolve => setImmediate(resolve))
    assert.deepEqual(node.dialled, [])
  })
})
