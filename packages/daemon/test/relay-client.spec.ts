/**
 * The relay client with stubbed components (no network): it reserves on a
 * peer that serves circuit relay v2 once identify says so, over a direct
 * connection only, on at most `maxRelays`, and never twice on one relay.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { pino } from 'pino'
import { RelayClient } from '../src/relay-client.js'
import { waitFor } from './harness.js'
import type { IdentifyResult, Libp2pEvents, TypedEventTarget } from '@libp2p/interface'
import type { TransportManager } from '@libp2p/interface-internal'

const ME = '12D3KooWAXx6iREjLnSWrtsro4kJMqXpCRgZFggZxQX9krR93Znq'
const R1 = '12D3KooWE4aK6nUwyAX6U7q5FaL2s1HXxPxfpLxc4R3gHpP6BELu'
const R2 = '12D3KooWJJ4qgzZJfMNkC6b1yA2cCXVX9XPhAiB2cEoRZxaTAiLH'
const R3 = '12D3KooWJkvTsodELobTAbM3dxRqu5dAUrnmGSawWT2WnoTwHME9'

interface Rig {
  client: RelayClient
  identify: (peer: string, protocols: string[], remoteAddr: string) => void
  listened: string[]
  settle: () => Promise<void>
}

function rig (maxRelays?: number, failures = 0): Rig {
  const events = new EventTarget() as unknown as TypedEventTarget<Libp2pEvents>
  const listened: string[] = []
  const addrs: Multiaddr[] = []
  const transportManager = {
    getAddrs: () => addrs,
    listen: async (list: Multiaddr[]) => {
      listened.push(...list.map(String))
      if (failures-- > 0) throw new Error('HadEnoughRelaysError: Not making reservation on discovered relay')
      // the transport's listener then holds the relayed address
      addrs.push(...list.map(a => a.encapsulate(`/p2p/${ME}`)))
    }
  } as unknown as TransportManager
  const client = new RelayClient({ events, transportManager }, { log: pino({ level: 'silent' }), ...(maxRelays != null ? { maxRelays } : {}) })
  client.start()
  const identify = (peer: string, protocols: string[], remoteAddr: string): void => {
    const detail = { peerId: peerIdFromString(peer), protocols, connection: { remoteAddr: multiaddr(remoteAddr) } } as unknown as IdentifyResult
    events.dispatchEvent(new CustomEvent('peer:identify', { detail }))
  }
  return { client, identify, listened, settle: async () => { await new Promise(resolve => setImmediate(resolve)) } }
}

describe('relay client', () => {
  it('reserves on a relay identified over a direct connection, once', async () => {
    const { identify, listened, settle, client } = rig()
    identify(R1, ['/ipfs/id/1.0.0'], '/ip4/10.0.0.1/tcp/4001')
    await settle()
    assert.deepEqual(listened, [], 'not a relay')
    identify(R1, [RELAY_V2_HOP_CODEC], '/ip4/10.0.0.1/tcp/4001')
    await settle()
    assert.deepEqual(listened, [`/ip4/10.0.0.1/tcp/4001/p2p/${R1}/p2p-circuit`])
    identify(R1, [RELAY_V2_HOP_CODEC], `/ip4/10.0.0.1/tcp/4001/p2p/${R1}`)
    await settle()
    assert.equal(listened.length, 1, 'never twice on one relay')
    assert.deepEqual([...client.reserved()], [R1])
    client.stop()
    identify(R2, [RELAY_V2_HOP_CODEC], '/ip4/10.0.0.2/tcp/4001')
    await settle()
    assert.equal(listened.length, 1, 'nothing after stop')
  })

  it('tries again when the transport\'s own discovery got in first and failed', async () => {
    const { identify, listened, client } = rig(2, 1)
    identify(R1, [RELAY_V2_HOP_CODEC], '/ip4/10.0.0.1/tcp/4001')
    await waitFor(() => listened.length === 2, 'a second try', 5_000)
    assert.deepEqual(listened, Array(2).fill(`/ip4/10.0.0.1/tcp/4001/p2p/${R1}/p2p-circuit`))
    assert.deepEqual([...client.reserved()], [R1])
    client.stop()
  })

  it('skips relays reached through another relay, and holds at most maxRelays', async () => {
    const { identify, listened, settle } = rig(2)
    identify(R1, [RELAY_V2_HOP_CODEC], `/ip4/10.0.0.9/tcp/4001/p2p/${R3}/p2p-circuit`)
    await settle()
    assert.deepEqual(listened, [])
    identify(R1, [RELAY_V2_HOP_CODEC], '/ip4/10.0.0.1/tcp/4001')
    identify(R2, [RELAY_V2_HOP_CODEC], '/ip4/10.0.0.2/tcp/4001')
    identify(R3, [RELAY_V2_HOP_CODEC], '/ip4/10.0.0.3/tcp/4001')
    await settle()
    assert.deepEqual(listened, [`/ip4/10.0.0.1/tcp/4001/p2p/${R1}/p2p-circuit`, `/ip4/10.0.0.2/tcp/4001/p2p/${R2}/p2p-circuit`])
  })
})
