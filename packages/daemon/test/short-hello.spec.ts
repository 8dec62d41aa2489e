/**
 * The sync hello's short form on real daemons (`/murmur/sync/3.1.0`, core
 * `sync/hello.ts`): once a pull from a peer ends with both holding the same,
 * the next sends a digest of the vector, not the vector; a digest that
 * differs over a vector naming ops the node lacks brings the whole pull
 * 500 ms later, unless gossip brought the ops meanwhile (at once, for more
 * than gossip could be carrying); a member whose pull says it holds more (a vector, or a short
 * hello's total) is pulled from in turn; and a peer that speaks only 3.0.0
 * always gets the whole hello.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { IN_FLIGHT_OPS, SYNC_PROTOCOL, SYNC_PROTOCOL_3_0, encodeFrame, type Frame, type Hello, type Op } from '@murmur/core'
import { multiaddr } from '@multiformats/multiaddr'
import { Attacker } from './attacker.js'
import { TestCluster, logged, waitFor } from './harness.js'

const ARGS = ['--anti-entropy-interval', '200', '--anti-entropy-max-interval', '400']
const done: Frame = { kind: 'control', message: { t: 'done' } }

describe('the sync hello\'s short form', () => {
  const cluster = new TestCluster()
  const attackers: Attacker[] = []
  after(async () => {
    for (const attacker of attackers) await attacker.stop()
    await cluster.close()
  })

  it('sends a digest once in step; a differing digest naming a few ops it lacks brings the whole pull 500 ms later, none when gossip brought them, and many at once', async () => {
    const mallory = await Attacker.start()
    attackers.push(mallory)
    // anti-entropy out of the way: alice pulls from mallory when mallory's own pull claims more (500 ms later)
    const alice = await cluster.start('alice', { args: ['--anti-entropy-interval', '60000', '--anti-entropy-max-interval', '60000'] })
    await alice.put('k', 'v')
    const addr = await alice.addr()
    await mallory.dial(addr)
    await waitFor(() => mallory.pulls.length > 0, 'alice to pull from mallory on connecting')
    // mallory answers alice's first short hello of a round with a vector naming `op`, and serves `op` to the pulls after it
    interface Round { op: Op, gossip: boolean, beyond: number, shortAt?: number }
    let round: Round | undefined
    mallory.answer = (_puller, hello) => {
      if (round === undefined) return [mallory.hello(hello), done]
      if (hello.summary !== undefined && round.shortAt === undefined) {
        round.shortAt = mallory.pulls.at(-1)?.at ?? Date.now() // the pull being answered
        if (round.gossip) mallory.publish([round.op]).catch((err: Error) => { console.log(`# mallory's publish failed: ${err.message}`) })
        return [mallory.hello(hello, { summary: 'not the same', vector: { [mallory.id]: round.op.seq + round.beyond } }), done]
      }
      return [mallory.hello(hello), ...(round.shortAt !== undefined ? [{ kind: 'ops' as const, ops: [round.op] }] : []), done]
    }
    const play = async (key: string, gossip: boolean, beyond = 0): Promise<number> => {
      const played: Round = round = { op: mallory.op(key, key), gossip, beyond }
      for (let i = 0; i < 4 && played.shortAt === undefined; i++) {
        const from = mallory.pulls.length
        await mallory.claim(addr, {}, 'default', { summary: 'more', total: Number.MAX_SAFE_INTEGER })
        await waitFor(() => mallory.pulls.length > from, 'alice to pull from mallory, which claimed more')
      }
      assert.ok(played.shortAt !== undefined, `no short hello in four pulls: ${mallory.pulls.map(p => p.hello.summary === undefined ? 'whole' : 'short').join(', ')}`)
      await waitFor(async () => await alice.value(key) === key, `alice to take ${key}`)
      return played.shortAt
    }

    const shortAt = await play('pulled', false)
    const short = mallory.pulls.findLast(p => p.at === shortAt && p.hello.summary !== undefined)
    const whole = mallory.pulls.find(p => p.hello.summary === undefined)
    assert.ok(short !== undefined && whole !== undefined)
    assert.equal(short.protocol, SYNC_PROTOCOL)
    assert.deepEqual(short.hello.vector, {})
    const bytes = (hello: Hello): number => encodeFrame({ kind: 'control', message: hello }).length
    console.log(`# alice's hello: ${bytes(whole.hello)} bytes whole, ${bytes(short.hello)} short`)
    const next = mallory.pulls.find(p => p.at >= shortAt && p !== short)
    assert.ok(next !== undefined)
    assert.equal(next.hello.summary, undefined, 'the pull after a differing digest is whole')
    console.log(`# the whole pull came ${next.at - shortAt} ms after the differing digest`)
    assert.ok(next.at - shortAt >= 400, `${next.at - shortAt} ms: gossip was given its 500 ms first`)
    // logged as that pull ends, which may be after alice answered with the key it brought
    await logged(alice, /"reason":"digest"[^\n]*"msg":"synced from peer"/, 'the pull the digest asked for to end')

    // the same, but the op reaches alice by gossip while the pull ends: no second pull
    const gossipedAt = await play('gossiped', true)
    await new Promise(resolve => setTimeout(resolve, 1_500))
    assert.deepEqual(mallory.pulls.filter(p => p.at > gossipedAt).map(p => p.at - gossipedAt), [], 'no pull: gossip brought the op')

    // more ops named than gossip could be carrying (core's IN_FLIGHT_OPS): the whole pull at once
    const farAt = await play('far', false, IN_FLIGHT_OPS)
    const far = mallory.pulls.find(p => p.at >= farAt && p.hello.summary === undefined)
    assert.ok(far !== undefined)
    console.log(`# naming ${IN_FLIGHT_OPS + 1} ops it lacked, the whole pull came ${far.at - farAt} ms after`)
    assert.ok(far.at - farAt < 400, `${far.at - farAt} ms`)
  })

  it('pulls, within a second, from a member whose short hello says it holds more (its total), as from one whose vector does', async () => {
    const mallory = await Attacker.start()
    attackers.push(mallory)
    // anti-entropy out of the way: only the claim can bring these pulls
    const carol = await cluster.start('carol', { args: ['--anti-entropy-interval', '60000', '--anti-entropy-max-interval', '60000'] })
    await carol.put('k', 'v')
    await mallory.dial(await carol.addr())
    await waitFor(() => mallory.pulls.length > 0, 'carol to pull from mallory on connecting')
    for (const [what, claim] of [['a short hello', { summary: 'anything', total: 1_000 }], ['a whole hello', {}]] as const) {
      const from = mallory.pulls.length
      const asked = Date.now()
      await mallory.claim(await carol.addr(), 'total' in claim ? {} : { [mallory.id]: 5 }, 'default', claim)
      await waitFor(() => mallory.pulls.length > from, `carol to pull from mallory after ${what} claiming more`, 5_000)
      const took = (mallory.pulls[from]?.at ?? 0) - asked
      console.log(`# carol pulled from mallory ${took} ms after ${what} claimed more`)
      assert.ok(took < 2_000, `${took} ms`)
    }
    await logged(carol, /"reason":"claim"[^\n]*"msg":"synced from peer"/, 'a pull a claim asked for to end')
  })

  it('sends the whole hello on a new connection, even to a peer it was in step with', async () => {
    const mallory = await Attacker.start()
    attackers.push(mallory)
    const dave = await cluster.start('dave', { args: ARGS })
    await dave.put('k', 'v')
    const addr = await dave.addr()
    await mallory.dial(addr)
    await waitFor(() => mallory.pulls.some(p => p.hello.summary !== undefined), 'dave to send a short hello')
    await mallory.hangUp(addr)
    const from = mallory.pulls.length
    await mallory.node.dial(multiaddr(addr))
    await waitFor(() => mallory.pulls.length > from, 'dave to pull from mallory over the new connection')
    assert.equal(mallory.pulls[from]?.hello.summary, undefined, 'whole')
  })

  it('sends the whole hello, every time, to a peer that speaks only 3.0.0', async () => {
    const old = await Attacker.start('default', [SYNC_PROTOCOL_3_0])
    attackers.push(old)
    const bob = await cluster.start('bob', { args: ARGS })
    await bob.put('k', 'v')
    await old.dial(await bob.addr())
    await waitFor(() => old.pulls.length >= 4, 'four pulls from bob')
    assert.deepEqual(old.pulls.map(p => [p.protocol, p.hello.summary, Object.keys(p.hello.vector).length]), old.pulls.map(() => [SYNC_PROTOCOL_3_0, undefined, 1]))
  })
})
