import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { NodeStatus, ReplicationStatus } from '@murmur/protocol'
import { formatStatus } from '../src/format-status.js'
import { STATUS } from './status-fixture.js'

const ALICE = '12D3KooWAlice'
const BOB = '12D3KooWBob'
const CAROL = '12D3KooWCarol'

/** Bob in a healthy three-node cluster: every member attested, nothing waiting, clocks agree. */
const HEALTHY: NodeStatus = {
  ...STATUS,
  peers: 2,
  versionVector: { [ALICE]: 9, [BOB]: 7, [CAROL]: 4 },
  clock: { maxSkewMs: 60000 },
  replication: { members: 3, evicted: [], floors: { [ALICE]: 8, [BOB]: 7, [CAROL]: 3 }, waiting: 0, waitingBytes: 0, equivocators: {} }
}

function withReplication (replication: Partial<ReplicationStatus>): NodeStatus {
  return { ...HEALTHY, replication: { ...HEALTHY.replication as ReplicationStatus, ...replication } }
}

/** The value lines of the row `label`: its first line and the indented ones under it. */
function row (text: string, label: string): string[] {
  const lines = text.split('\n')
  const first = lines.findIndex(line => line.startsWith(`${label}:`))
  if (first === -1) return []
  const rest = lines.slice(first + 1)
  const end = rest.findIndex(line => !line.startsWith(' '))
  return [(lines[first] as string).slice(label.length + 1), ...rest.slice(0, end === -1 ? rest.length : end)].map(line => line.trimStart())
}

describe('formatStatus: replication', () => {
  it('shows members and floors of a healthy cluster, and nothing alarming', () => {
    const text = formatStatus(HEALTHY)
    assert.deepEqual(row(text, 'members'), ['3 (this node included)'])
    assert.deepEqual(row(text, 'collection'), ['floors on 3 origins (under versions)'])
    assert.deepEqual(row(text, 'versions'), [
      `${ALICE} 9 (floor 8)`,
      `${BOB} 7 (this node, floor 7)`,
      `${CAROL} 4 (floor 3)`
    ])
    assert.doesNotMatch(text, /WARNING|evicted|blocked|^waiting:/m)
  })

  it('warns of equivocators, and says why collection is blocked, who is evicted and what waits', () => {
    const text = formatStatus(withReplication({
      members: 2,
      evicted: ['12D3KooWEve'],
      floors: { [ALICE]: 8 },
      collectionBlocked: `the attestation of ${CAROL} disagrees with this node's ops of ${CAROL} at seq 4`,
      waiting: 3,
      waitingBytes: 1536,
      equivocators: { [CAROL]: 4, '12D3KooWMallory': 17 }
    }))
    assert.deepEqual(row(text, 'members'), [
      '2 (this node included)',
      `WARNING: ${CAROL} signed two different ops with seq 4; both are kept`,
      'WARNING: 12D3KooWMallory signed two different ops with seq 17; both are kept',
      'evicted 12D3KooWEve (silent past the retention)'
    ])
    assert.deepEqual(row(text, 'collection'), [
      'floors on 1 origin (under versions)',
      `blocked: the attestation of ${CAROL} disagrees with this node's ops of ${CAROL} at seq 4`
    ])
    assert.deepEqual(row(text, 'waiting'), ['3 ops (1.5 KiB) for an earlier op of their origin or for the clock'])
    assert.deepEqual(row(text, 'versions'), [`${ALICE} 9 (floor 8)`, `${BOB} 7 (this node)`, `${CAROL} 4`])
  })

  it('says so when no origin has a floor yet, and counts a single waiting op in bytes', () => {
    const text = formatStatus(withReplication({ members: 1, floors: {}, waiting: 1, waitingBytes: 200 }))
    assert.deepEqual(row(text, 'collection'), ['no floors yet'])
    assert.deepEqual(row(text, 'waiting'), ['1 op (200 B) for an earlier op of their origin or for the clock'])
  })

  it('leaves the rows out for a daemon that does not report replication', () => {
    const { replication, ...old } = HEALTHY
    const text = formatStatus(old)
    assert.deepEqual([row(text, 'members'), row(text, 'collection')], [[], []])
    assert.deepEqual(row(text, 'versions'), [`${ALICE} 9`, `${BOB} 7 (this node)`, `${CAROL} 4`])
  })
})

describe('formatStatus: reach', () => {
  it('says how the node is reached, the relays it holds a reservation on, and what it serves as a relay', () => {
    const text = formatStatus({ ...HEALTHY, reach: { reachability: 'private', relays: ['12D3KooWRelay'], relayServer: { reservations: 2 } } })
    assert.deepEqual(row(text, 'reach'), [
      'private (behind NAT or on a private network: other networks reach it through a relay)',
      'reserved on relay 12D3KooWRelay',
      'serving as a relay: 2 reservations'
    ])
    assert.deepEqual(row(formatStatus({ ...HEALTHY, reach: { reachability: 'public', relays: [] } }), 'reach'), ['public (an address of its own that other networks can dial)'])
  })

  it('leaves the row out for a daemon that does not report it', () => {
    assert.deepEqual(row(formatStatus(HEALTHY), 'reach'), [])
  })
})
