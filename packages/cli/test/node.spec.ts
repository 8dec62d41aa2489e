import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { PeerInfo } from '@murmur/protocol'
import { byMethod, startFakeDaemon, type FakeDaemon } from './fake-daemon.js'
import { run } from './run-cli.js'
import { STATUS } from './status-fixture.js'

const PEERS: PeerInfo[] = [
  { id: '12D3KooWBob', name: 'bob', member: true, gossip: true, mesh: true, via: 'mdns', connection: 'direct', addrs: ['/ip4/127.0.0.1/tcp/4001', '/ip4/10.0.0.2/tcp/4001'] },
  { id: '12D3KooWCarol', name: 'carol', member: true, gossip: false, mesh: false, via: 'explicit', connection: 'direct', addrs: ['/ip4/10.0.0.3/tcp/4001'] },
  { id: '12D3KooWDan', name: 'dan', member: true, gossip: true, mesh: false, via: 'inbound', connection: 'direct', addrs: ['/ip4/10.0.0.4/tcp/4001'] },
  { id: '12D3KooWEve', member: false, connection: 'relayed', relay: '12D3KooWRelay', addrs: ['/ip4/10.0.0.9/tcp/4001/p2p/12D3KooWRelay/p2p-circuit'] },
  { id: '12D3KooWOld', member: false, addrs: [] }
]

describe('node commands against a fake daemon', () => {
  let daemon: FakeDaemon
  const cli = async (...argv: string[]): ReturnType<typeof run> => await run(['--socket', daemon.path, ...argv])

  before(async () => {
    daemon = await startFakeDaemon(byMethod({
      p2p_peers: () => ({ result: PEERS }),
      p2p_connect: () => ({ result: { id: '12D3KooWCarol' } }),
      node_status: () => ({ result: STATUS })
    }))
  })
  after(async () => await daemon.close())

  it('peers prints one line per peer', async () => {
    const { code, stdout } = await cli('peers')
    assert.equal(code, 0)
    assert.equal(stdout, [
      '12D3KooWBob  bob  member  mdns  direct  /ip4/127.0.0.1/tcp/4001,/ip4/10.0.0.2/tcp/4001',
      '12D3KooWCarol  carol  member,no-gossip  explicit  direct  /ip4/10.0.0.3/tcp/4001',
      '12D3KooWDan  dan  member,no-mesh  inbound  direct  /ip4/10.0.0.4/tcp/4001',
      '12D3KooWEve  -  non-member  -  relayed:12D3KooWRelay  /ip4/10.0.0.9/tcp/4001/p2p/12D3KooWRelay/p2p-circuit',
      '12D3KooWOld  -  non-member  -  -  -',
      ''
    ].join('\n'))
  })

  it('peers --json prints the list', async () => {
    assert.deepEqual(JSON.parse((await cli('peers', '--json')).stdout), PEERS)
  })

  it('connect prints the peer id', async () => {
    const { code, stdout } = await cli('connect', '/ip4/10.0.0.3/tcp/4001/p2p/12D3KooWCarol')
    assert.equal(code, 0)
    assert.equal(stdout, '12D3KooWCarol\n')
    assert.deepEqual(daemon.requests.at(-1)?.params, { addr: '/ip4/10.0.0.3/tcp/4001/p2p/12D3KooWCarol' })
  })

  it('status prints a summary', async () => {
    const { code, stdout } = await cli('status')
    assert.equal(code, 0)
    assert.equal(stdout, [
      'name:       bob',
      'id:         12D3KooWBob',
      'group:      home',
      'version:    0.1.0',
      'role:       FOLLOWER (leaderless; coordinator 12D3KooWAlice)',
      'peers:      1',
      'keys:       42',
      'tombstones: 3',
      'ops:        3 repaired, 5 gossiped, 1 refused, 4 gossip messages rejected, 2 throttled, 0 held, 2 tombstones collected',
      'clock:      max skew 60000 ms',
      '            WARNING: this node\'s clock and its peer\'s differ by 90 s; one of them is wrong',
      'members:    2 (this node included)',
      'collection: floors on 2 origins (under versions)',
      'sync:       alice 12D3KooWAlice connected, last sync 2026-11-26T10:00:00.000Z (3 ops), 0 behind, clock -4 ms',
      '            - 12D3KooWEve disconnected, never synced, last error: peer refused sync',
      'uptime:     1d 2h 3m 4s',
      'data dir:   /data/bob',
      'socket:     /data/bob/murmurd.sock',
      'addrs:      /ip4/127.0.0.1/tcp/4001',
      'versions:   12D3KooWAlice 9 (floor 8)',
      '            12D3KooWBob 7 (this node, floor 6)',
      ''
    ].join('\n'))
  })

  it('status --json prints the object', async () => {
    assert.deepEqual(JSON.parse((await cli('status', '--json')).stdout), STATUS)
  })
})
