/**
 * A member that trickles its syncs cannot hold up catch-up from honest peers
 * (hole 9, README Security): pulls run one at a time, but one that has
 * delivered nothing new for 2 s no longer holds back the next. "Nothing new"
 * includes frames that carry nothing at all: a server that sends an empty
 * frame every second has delivered no op; and a snapshot's frames sent
 * again: one that offers a snapshot and sends the same row every second has
 * delivered one row. And such frames end the pull after `--pull-stale`,
 * witnesses (which bring nothing by themselves) as much as empty ops frames.
 * Nor does a trickle of new ops hold back the next for
 * long (a pull holds it back only while it brings 16 KiB every 2 s), nor
 * do members that trickle hold every pull slot (the one that brought least
 * lately is ended for a waiting pull once it has run 5 s).
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, describe, it } from 'node:test'
import type { Frame, Hello, Op } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, waitFor, type TestNode } from './harness.js'

/** dave's `--pull-stale` (murmurd's default is 30 s). */
const PULL_STALE_MS = 5_000

describe('a member that trickles frames that bring nothing (hole 9)', () => {
  const cluster = new TestCluster()
  let attacker: Attacker | undefined
  let trickling = true
  after(async () => {
    trickling = false
    await attacker?.stop()
    await cluster.close()
  })

  it('does not hold back a pull from an honest peer: alice catches up from bob within seconds', async () => {
    const bob = await cluster.start('bob')
    for (let i = 0; i < 3; i++) await bob.put(`k${i}`, `v${i}`)
    // restarted, bob has no recent gossip to offer: only a pull can bring his writes
    assert.equal(await bob.stop(), 0)
    await bob.start()
    attacker = await Attacker.start()
    const mallory = attacker
    // its answer to a pull: a hello that holds what the puller holds, then an empty ops frame every second, for a minute
    mallory.answer = async function * (_puller: string, hello: Hello): AsyncGenerator<Frame> {
      yield mallory.hello(hello)
      for (let i = 0; i < 60 && trickling; i++) {
        await sleep(1_000)
        yield { kind: 'ops', ops: [] }
      }
      yield { kind: 'control', message: { t: 'done' } }
    }
    const maddr = mallory.node.getMultiaddrs()[0]?.toString() ?? ''
    const alice = await cluster.start('alice', { peers: [maddr] })
    await waitFor(() => mallory.pulls.length > 0, 'alice to pull from mallory')
    const asked = Date.now()
    assert.equal((await alice.ctl(['connect', await bob.addr()])).code, 0)
    await cluster.converged([alice, bob], 3, 15_000)
    const took = Date.now() - asked
    console.log(`# alice held bob's 3 keys ${took} ms after connecting to him, beside mallory's trickle`)
    assert.ok(took < 10_000, `${took} ms`)
  })

  it('nor does one that offers a snapshot and sends the same row again every second: carol catches up from bob within seconds', async () => {
    const mallory = attacker as Attacker
    const bob = cluster.node('bob')
    const row: Op = mallory.op('mallory/row', 'once')
    mallory.answer = async function * (_puller: string, hello: Hello): AsyncGenerator<Frame> {
      yield mallory.hello(hello, { snapshot: true })
      for (let i = 0; i < 60 && trickling; i++) {
        yield { kind: 'import', ops: [row] }
        await sleep(1_000)
      }
      yield { kind: 'control', message: { t: 'done' } }
    }
    const pulls = mallory.pulls.length
    const carol = await cluster.start('carol', { peers: [mallory.node.getMultiaddrs()[0]?.toString() ?? ''] })
    await waitFor(() => mallory.pulls.slice(pulls).some(p => p.hello.name === 'carol'), 'carol to pull from mallory')
    const asked = Date.now()
    assert.equal((await carol.ctl(['connect', await bob.addr()])).code, 0)
    await cluster.converged([carol, bob], 3, 15_000)
    const took = Date.now() - asked
    console.log(`# carol held bob's 3 keys ${took} ms after connecting to him, beside mallory's repeated snapshot row`)
    assert.ok(took < 10_000, `${took} ms`)
  })

  it('and a pull from one that sends an empty frame of witnesses every second ends after --pull-stale, as one of empty ops frames does', async () => {
    const mallory = attacker as Attacker
    let started = 0
    let ended = 0
    mallory.answer = async function * (_puller: string, hello: Hello): AsyncGenerator<Frame> {
      // the nodes of the tests before pull from her too, and dave again once his first pull ends: they get nothing
      if (hello.name !== 'dave' || started > 0) return yield * [mallory.hello(hello), { kind: 'control', message: { t: 'done' } }]
      started = Date.now()
      try {
        yield mallory.hello(hello)
        for (let i = 0; i < 90 && trickling; i++) {
          await sleep(1_000)
          yield { kind: 'witness', ops: [] }
        }
        yield { kind: 'control', message: { t: 'done' } }
      } finally {
        // the puller ended the pull: the next write failed
        ended = Date.now()
      }
    }
    // --pull-stale shorter than its 30 s default, to wait less; mallory trickles for 90 s, far past the deadline
    await cluster.start('dave', { peers: [mallory.node.getMultiaddrs()[0]?.toString() ?? ''], args: ['--anti-entropy-interval', '60000', '--anti-entropy-max-interval', '60000', '--pull-stale', String(PULL_STALE_MS)] })
    await waitFor(() => ended > 0, 'dave to end his pull from mallory', PULL_STALE_MS + 30_000, 200)
    console.log(`# dave ended his pull of mallory's witness trickle after ${ended - started} ms (--pull-stale ${PULL_STALE_MS})`)
    assert.ok(ended - started < PULL_STALE_MS + 10_000, `${ended - started} ms`)
  })
})

describe('members that trickle new ops of their own, one every 1.5 s (hole 9)', () => {
  const cluster = new TestCluster()
  const tricklers: Attacker[] = []
  let trickling = true
  after(async () => {
    trickling = false
    await Promise.all(tricklers.map(async mallory => { await mallory.stop() }))
    await cluster.close()
  })

  /** Its answer to a pull: a hello that holds what the puller holds, then a new op of its own every 1.5 s (each frame moves the pull on), for 90 s. */
  function trickle (mallory: Attacker): void {
    mallory.answer = async function * (_puller: string, hello: Hello): AsyncGenerator<Frame> {
      yield mallory.hello(hello)
      for (let i = 0; i < 60 && trickling; i++) {
        await sleep(1_500)
        yield { kind: 'ops', ops: [mallory.op(`trickle/${i}`, 'x')] }
      }
      yield { kind: 'control', message: { t: 'done' } }
    }
  }

  /** Starts `name` linked to every trickler, connects it to `bob` once it pulls from one, and returns how long it took to hold bob's `keys`. */
  async function catchUp (name: string, bob: TestNode, keys: number): Promise<number> {
    const pulls = tricklers.reduce((sum, mallory) => sum + mallory.pulls.length, 0)
    const node = await cluster.start(name, { peers: tricklers.map(mallory => mallory.node.getMultiaddrs()[0]?.toString() ?? '') })
    await waitFor(() => tricklers.reduce((sum, mallory) => sum + mallory.pulls.length, 0) > pulls, `${name} to pull from a trickler`)
    const asked = Date.now()
    assert.equal((await node.ctl(['connect', await bob.addr()])).code, 0)
    await waitFor(async () => (await node.entries('k')).length === keys, `${name} to hold bob's ${keys} keys`, 60_000, 200)
    return Date.now() - asked
  }

  it('one such member does not hold back a pull from an honest peer, nor five (more than pulls run at once)', async () => {
    const bob = await cluster.start('bob')
    for (let i = 0; i < 20; i++) await bob.put(`k${i}`, `v${i}`)
    // restarted, bob has no recent gossip to offer: only a pull can bring his writes
    assert.equal(await bob.stop(), 0)
    await bob.start()
    tricklers.push(await Attacker.start())
    trickle(tricklers[0] as Attacker)
    const one = await catchUp('alice', bob, 20)
    console.log(`# alice held bob's 20 keys ${one} ms after connecting to him, beside one member trickling new ops`)
    for (let i = 0; i < 4; i++) {
      const mallory = await Attacker.start()
      trickle(mallory)
      tricklers.push(mallory)
    }
    const five = await catchUp('carol', bob, 20)
    console.log(`# carol held bob's 20 keys ${five} ms after connecting to him, beside five members trickling new ops`)
    assert.ok(one < 10_000, `one trickler: ${one} ms`)
    assert.ok(five < 30_000, `five tricklers: ${five} ms`)
  })
})
