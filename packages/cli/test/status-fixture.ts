/** A node status as `node_status` answers it, shared by the status tests. */
import type { NodeStatus } from '@murmur/protocol'

export const STATUS: NodeStatus = {
  id: '12D3KooWBob',
  name: 'bob',
  group: 'home',
  version: '0.1.0',
  dataDir: '/data/bob',
  socket: '/data/bob/murmurd.sock',
  addrs: ['/ip4/127.0.0.1/tcp/4001'],
  peers: 1,
  keys: 42,
  tombstones: 3,
  mode: 'leaderless',
  role: 'FOLLOWER',
  coordinator: '12D3KooWAlice',
  versionVector: { '12D3KooWBob': 7, '12D3KooWAlice': 9 },
  peerSync: [
    { id: '12D3KooWAlice', name: 'alice', connected: true, lastSync: '2026-11-26T10:00:00.000Z', lastSyncOps: 3, behind: 0, clockOffsetMs: -4 },
    { id: '12D3KooWEve', connected: false, lastError: 'peer refused sync' }
  ],
  counters: { repaired: 3, gossiped: 5, rejected: 1, rejectedMessages: 4, throttledMessages: 2, held: 0, collected: 2 },
  clock: { maxSkewMs: 60000, warning: 'this node\'s clock and its peer\'s differ by 90 s; one of them is wrong' },
  uptimeMs: 93_784_000,
  replication: { members: 2, evicted: [], floors: { '12D3KooWAlice': 8, '12D3KooWBob': 6 }, waiting: 0, waitingBytes: 0, equivocators: {} }
}
