/**
 * The sync hello's short form on real daemons (`/murmur/sync/3.1.0`, core
 * `sync/hello.ts`): once a pull from a peer ends with both holding the same,
 * the next sends a digest of the vector, not the vector; a digest that
 * differs over a vector naming ops the node lacks brings the whole pull at
 * once; a member whose pull says it holds more (a vector, or a short
 * hello's total) is pulled from in turn; and a peer that speaks only 3.0.0
 * always gets the whole hello.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { SYNC_PROTOCOL, SYNC_PROTOCOL_3_0, encodeFrame, summarize, type Frame, type Hello } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, waitFor } from './harness.js'

const ARGS = ['--anti-entropy-interval', '200', '--anti-entropy-max-interval', '400']
const done: Frame = { kind: 'control', message: { t: 'done' } }

describe('the sync hello\'s short form', () => {
  const cluster = new TestCluster()
  const attackers: Attacker[] = []
  after(async () => {
    for (const attacker of attackers) await attacker.stop()
    await cluster.close()
  })

  it('sends a digest once in step, and pulls in full at once when a peer\'s differing digest names ops it lacks', async () => {
    const mallory = await Attacker.start()
    attackers.push(mallory)
    const alice = await cluster.start('alice', { args: ARGS })
    await alice.put('k', 'v')
    await mallory.dial(await alice.addr())
    await waitFor(() => mallory.pulls.some(p => p.hello.summary !== undefined), 'alice to send a short hello')
    const [whole, short] = [mallory.pulls.find(p => p.hello.summary === undefined), mallory.pulls.find(p => p.hello.summary !== undefined)]
    assert.ok(whole !== undefined && short !== undefined)
    assert.equal(short.protocol, SYNC_PROTOCOL)
    assert.deepEqual(short.hello.vector, {})
    assert.equal(short.hello.summary, summarize(whole.hello.vector), 'the digest of the vector the whole hello named')
    const bytes = (hello: Hello): number => encodeFrame({ kind: 'control', message: hello }).length
    console.log(`# alice's hello: ${bytes(whole.hello)} bytes whole, ${bytes(short.hello)} short (one origin)`)

    // now mallory holds an op of its own that alice lacks: it says so only in its answer to a short hello
    const op = mallory.op('from-mallory', 'x')
    mallory.answer = (_puller, hello) => hello.summary !== undefined
      ? [mallory.hello(hello, { summary: 'not the same', vector: { ...whole.hello.vector, [mallory.id]: op.seq } }), done]
      : [mallory.hello(hello), { kind: 'ops', ops: [op] }, done]
    const from = mallory.pulls.length
    await waitFor(async () => (await alice.ctl(['get', 'from-mallory'])).stdout.trim() === 'x', 'alice to take the op from mallory')
    const after = mallory.pulls.slice(from)
    const differed = after.findIndex(p => p.hello.summary !== undefined)
    const next = after[differed + 1]
    assert.ok(differed >= 0 && next !== undefined, `pulls after: ${after.map(p => p.hello.summary === undefined ? 'whole' : 'short').join(', ')}`)
    assert.equal(next.hello.summary, undefined, 'the pull after a differing digest is whole')
    assert.ok(alice.stderr.split('\n').some(line => line.includes('"synced from peer"') && line.includes('"reason":"digest"')), 'asked at once, for the digest')
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
    assert.ok(carol.stderr.split('\n').some(line => line.includes('"synced from peer"') && line.includes('"reason":"claim"')))
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
