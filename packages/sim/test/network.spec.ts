/**
 * A visit (`Network.visit`, murmurd's `PeerDialer.visit`): a node dials a
 * member beyond the topology to ask it again. The link opens only where a dial
 * could succeed, stays until it breaks, is not redialled, and never takes a
 * link of the topology with it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Network, type Endpoint } from '../src/network.js'
import { Rng } from '../src/rng.js'
import { Scheduler } from '../src/scheduler.js'

function world (topology?: string[]): { sched: Scheduler, net: Network, nodes: Map<string, Endpoint & { up: boolean }>, met: string[] } {
  const sched = new Scheduler()
  const net = new Network(sched, new Rng(3), { latency: [5, 20], drop: 0, dup: 0 }, (_, err) => { throw err })
  const met: string[] = []
  const nodes = new Map(['a', 'b', 'c'].map(id => [id, {
    id,
    up: true,
    incarnation: 0,
    gossip: () => 'accept' as const,
    serve: () => [][Symbol.iterator](),
    frameDelay: () => 0,
    connected: (peer: string) => { met.push(`${id}>${peer}`) }
  }]))
  for (const node of nodes.values()) net.add(node)
  if (topology !== undefined) net.topology = new Set(topology.map(link => link.replace('-', '\n')))
  net.changed()
  sched.run(1_000)
  met.length = 0
  return { sched, net, nodes, met }
}

const node = (nodes: Map<string, Endpoint & { up: boolean }>, id: string): Endpoint & { up: boolean } => nodes.get(id) as Endpoint & { up: boolean }

describe('a visit beyond the topology', () => {
  it('opens a link a latency later, and each end pulls from the other as on any new link', () => {
    const { sched, net, met } = world(['a-b', 'b-c'])
    net.visit('a', 'c')
    assert.equal(net.canReach('a', 'c'), false)
    sched.run(2_000)
    assert.equal(net.canReach('a', 'c'), true)
    assert.deepEqual(met.sort(), ['a>c', 'c>a'])
    assert.equal(net.stats.visits, 1)
  })

  it('fails when no dial could succeed, and the link does not open later', () => {
    const { sched, net, nodes } = world(['a-b', 'b-c'])
    node(nodes, 'c').up = false
    net.changed()
    net.visit('a', 'c')
    node(nodes, 'c').up = true
    net.changed()
    sched.run(2_000)
    assert.equal(net.canReach('a', 'c'), false)
    net.partition([['a', 'b'], ['c']])
    net.visit('a', 'c')
    net.partition(undefined)
    sched.run(3_000)
    assert.equal(net.canReach('a', 'c'), false)
    assert.equal(net.stats.visits, 0)
  })

  it('stays open until it breaks, is not redialled, and takes no link of the topology with it', () => {
    const { sched, net, nodes } = world(['a-b', 'b-c'])
    net.visit('a', 'c')
    sched.run(60_000)
    assert.equal(net.canReach('a', 'c'), true, 'open while nothing breaks it')
    node(nodes, 'c').up = false
    net.changed()
    node(nodes, 'c').up = true
    net.changed()
    sched.run(61_000)
    assert.equal(net.canReach('a', 'c'), false, 'gone with its end')
    assert.equal(net.canReach('b', 'c'), true)
    net.visit('a', 'c')
    sched.run(62_000)
    net.partition([['a', 'b'], ['c']])
    net.partition(undefined)
    sched.run(63_000)
    assert.equal(net.canReach('a', 'c'), false, 'gone with a partition')
    assert.ok(net.canReach('a', 'b') && net.canReach('b', 'c'))
  })

  it('is nothing where every pair is linked, or between linked nodes', () => {
    const whole = world()
    whole.net.visit('a', 'c')
    whole.sched.run(2_000)
    assert.equal(whole.net.stats.visits, 0)
    const linked = world(['a-b', 'b-c'])
    linked.net.visit('a', 'b')
    linked.sched.run(2_000)
    assert.equal(linked.net.stats.visits, 0)
    assert.deepEqual(linked.met, [])
  })
})
