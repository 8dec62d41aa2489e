/**
 * The README's limit on one peer's gossip: "each peer may send at most 5,000
 * messages a second (a burst of 10,000) before the rest are ignored". Tried
 * here the way a flooding member would, at the topic validator murmurd
 * registers with gossipsub, in-process and with the clock held still: on real
 * murmurd on this machine the validator itself is slower than the limit
 * (garbage it refuses and logs: ~3,400 a second; genuine ops: fewer), and
 * gossipsub graylists a peer whose garbage it has scored, so the limit never
 * shows there (see the commit that added this test).
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it, mock } from 'node:test'
import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import pino from 'pino'
import { encodeOps, type Op } from '@murmur/core'
import { GossipReplication, type GossipInit } from '../src/gossip.js'
import { RateLimiter } from '../src/rate-limit.js'

type Validator = (peer: PeerId, message: Message) => TopicValidatorResult

/** What gossipsub would hand murmur's validator: a stub that keeps the validator it is given. */
function validatorOf (screen: GossipInit['screen'] = ops => ({ fresh: ops, known: 0 }), receive: GossipInit['receive'] = () => []): { validate: Validator, gossip: GossipReplication } {
  const topicValidators = new Map<string, Validator>()
  const pubsub = { topicValidators, addEventListener () {}, removeEventListener () {}, subscribe () {}, unsubscribe () {}, sendRpc: () => true }
  const gossip = new GossipReplication(pubsub as unknown as GossipSub, { group: 'default', log: pino({ level: 'silent' }), maxValueBytes: 1024, screen, receive })
  gossip.start()
  return { validate: topicValidators.get(gossip.topic) as Validator, gossip }
}

const peer = (name: string): PeerId => ({ toString: () => name }) as unknown as PeerId
/** A message no op decodes from: validated, it is refused. */
const garbage: Message = { type: 'unsigned', topic: '/murmur/default/ops/3', data: Uint8Array.of(2, 0xff, 0xff) }

/** How many of `count` messages from `from` the validator looked at (refused), and how many it ignored unseen. */
function send (validate: Validator, from: PeerId, count: number): { validated: number, ignored: number } {
  const tally = { validated: 0, ignored: 0 }
  for (let i = 0; i < count; i++) {
    if (validate(from, garbage) === TopicValidatorResult.Ignore) tally.ignored++
    else tally.validated++
  }
  return tally
}

describe('a member that floods gossip', () => {
  beforeEach(() => { mock.timers.enable({ apis: ['Date'], now: 1_000_000 }) })
  afterEach(() => { mock.timers.reset() })

  it('has 10,000 messages validated at once, then 5,000 a second; the rest are ignored, and other peers are not held back', () => {
    const { validate, gossip } = validatorOf()
    assert.deepEqual(send(validate, peer('mallory'), 25_000), { validated: 10_000, ignored: 15_000 }, 'the burst')
    assert.equal(gossip.rejected, 10_000, 'only what was validated is counted as refused')
    assert.deepEqual(gossip.throttled, { sender: 15_000, origin: 0 }, 'the rest are counted as throttled, by their sender')
    assert.deepEqual(send(validate, peer('bob'), 10), { validated: 10, ignored: 0 }, 'another peer has a bucket of its own')

    mock.timers.tick(1_000)
    assert.deepEqual(send(validate, peer('mallory'), 8_000), { validated: 5_000, ignored: 3_000 }, 'a second later')
    mock.timers.tick(100)
    assert.deepEqual(send(validate, peer('mallory'), 1_000), { validated: 500, ignored: 500 }, 'a tenth of a second later')

    // a quiet minute refills the burst, never more
    mock.timers.tick(60_000)
    assert.deepEqual(send(validate, peer('mallory'), 12_000), { validated: 10_000, ignored: 2_000 }, 'after a quiet minute')
    gossip.stop()
  })

  it('cannot refill its own or anyone else\'s bucket by sending as 10,001 fresh identities', () => {
    const { validate, gossip } = validatorOf()
    assert.deepEqual(send(validate, peer('mallory'), 10_000), { validated: 10_000, ignored: 0 }, 'mallory spends her burst')
    assert.deepEqual(send(validate, peer('bob'), 3_000), { validated: 3_000, ignored: 0 }, 'bob spends part of his')
    for (let i = 0; i < 10_001; i++) send(validate, peer(`mallory-${i}`), 1)
    assert.deepEqual(send(validate, peer('mallory'), 10), { validated: 0, ignored: 10 }, 'mallory\'s bucket is still empty')
    assert.deepEqual(send(validate, peer('bob'), 8_000), { validated: 7_000, ignored: 1_000 }, 'bob\'s bucket holds what he left in it')
    gossip.stop()
  })

  it('pays one more for each op the node holds already: a replay of 100 such ops a message has 100 messages screened at once, then 50 a second', () => {
    let screened = 0
    const { validate, gossip } = validatorOf(ops => {
      screened++
      return { fresh: [], known: ops.length }
    })
    const ops: Op[] = Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: Buffer.from('x'), wall: 1, logical: 0, origin: 'mallory', seq: i + 1 }))
    const replay: Message = { type: 'unsigned', topic: gossip.topic, data: encodeOps(ops) }
    const verdicts = Array.from({ length: 500 }, () => validate(peer('mallory'), replay))
    assert.ok(verdicts.every(v => v === TopicValidatorResult.Ignore), 'a message of ops held already goes no further')
    // 10,000 at once: each message 1 and its 100 ops (the last one into debt)
    assert.equal(screened, 100, 'messages screened of the burst')
    assert.equal(gossip.rejected, 0, 'a replay is no refusal')
    mock.timers.tick(1_000)
    for (let i = 0; i < 500; i++) validate(peer('mallory'), replay)
    assert.ok(screened <= 100 + 50, `screened a second later: ${screened - 100}`)
    gossip.stop()
  })

  it('pays for every held op, however many a message holds: 30,000 keep it silent 4 s, not 2', () => {
    let screened = 0
    const { validate, gossip } = validatorOf(ops => {
      screened++
      return { fresh: [], known: ops.length }
    })
    const held: Message = { type: 'unsigned', topic: gossip.topic, data: encodeOps(Array.from({ length: 30_000 }, (_, i) => ({ key: `k${i}`, value: null, wall: 1, logical: 0, origin: 'mallory', seq: i + 1 }))) }
    const small: Message = { type: 'unsigned', topic: gossip.topic, data: encodeOps([{ key: 'k', value: null, wall: 1, logical: 0, origin: 'mallory', seq: 1 }]) }
    validate(peer('mallory'), held)
    assert.equal(screened, 1)
    // 10,000 - 1 - 30,000 tokens: 20,001 owed, 4 s at 5,000 a second
    for (const wait of [1_000, 1_000, 1_000, 900]) {
      mock.timers.tick(wait)
      assert.equal(validate(peer('mallory'), small), TopicValidatorResult.Ignore)
      assert.equal(screened, 1, 'ignored unchecked while it owes')
    }
    mock.timers.tick(300)
    validate(peer('mallory'), small)
    assert.equal(screened, 2, 'screened once it has paid')
    gossip.stop()
  })

  it('pays one for each batch checked past a message\'s first: a message of 4,000 signed alone costs 4,000, and one its allowance cannot pay is ignored unchecked', () => {
    let screened = 0
    let checked = 0
    const { validate, gossip } = validatorOf(ops => {
      screened++
      checked += ops.length
      return { fresh: ops, known: 0 }
    })
    const signedAlone = (from: number, count: number): Message => ({
      type: 'unsigned',
      topic: gossip.topic,
      data: encodeOps(Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: null, wall: 1, logical: 0, origin: 'mallory', seq: from + i, proof: { sig: new Uint8Array(64), first: from + i, digests: new Uint8Array(32) } })))
    })
    // 10,000 tokens: two messages of 4,000 batches (8,000), and a third of 4,000 is more than the 2,000 left
    for (let i = 0; i < 3; i++) validate(peer('mallory'), signedAlone(1 + i * 4_000, 4_000))
    assert.equal(screened, 2, 'the third is ignored unchecked')
    assert.equal(checked, 8_000)
    assert.deepEqual(gossip.throttled, { sender: 1, origin: 0 })
    assert.equal(gossip.charged.sender, 2 * 3_999)
    // an honest message of one batch still passes: its first batch is the message's one token
    const batch = { sig: new Uint8Array(64), first: 1, digests: new Uint8Array(100 * 32) }
    const one = encodeOps(Array.from({ length: 100 }, (_, i) => ({ key: `b${i}`, value: null, wall: 1, logical: 0, origin: 'bob', seq: i + 1, proof: batch })))
    assert.notEqual(validate(peer('mallory'), { type: 'unsigned', topic: gossip.topic, data: one }), TopicValidatorResult.Ignore)
    assert.equal(gossip.charged.sender, 2 * 3_999, 'one batch costs only the message\'s token')
    // a second later, 5,000 more: one more message of 4,000
    mock.timers.tick(1_000)
    for (let i = 3; i < 6; i++) validate(peer('mallory'), signedAlone(1 + i * 4_000, 4_000))
    assert.equal(screened, 4, 'one more of 4,000 a second later')
    gossip.stop()
  })
})

/** A message of `count` ops of `origin`'s, from seq `first`. */
function messageOf (origin: string, count: number, first = 1): Message {
  const ops: Op[] = Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: Buffer.from('x'), wall: 1, logical: 0, origin, seq: first + i }))
  return { type: 'unsigned', topic: '/murmur/default/ops/3', data: encodeOps(ops) }
}

describe('an origin whose ops are checked and not kept', () => {
  beforeEach(() => { mock.timers.enable({ apis: ['Date'], now: 1_000_000 }) })
  afterEach(() => { mock.timers.reset() })

  it('pays for each (refused once taken): past 1,000 at once, messages holding its ops are ignored unchecked, whoever relays them, until it has paid at 100 a second', async () => {
    const screened: string[] = []
    // one op of each message held already, so the rest are taken at once (not through gossipsub's event); the replica refuses them all
    const { validate, gossip } = validatorOf(ops => {
      screened.push(ops[0]?.origin as string)
      return { fresh: ops.slice(1), known: 1 }
    }, ops => ops)
    assert.equal(validate(peer('mallory'), messageOf('mallory', 2_001)), TopicValidatorResult.Ignore)
    await new Promise(resolve => setImmediate(resolve))
    assert.equal(gossip.charged.origin, 2_000, 'the ops checked and not kept are charged to their origin')
    assert.equal(validate(peer('bob'), messageOf('mallory', 10, 2_000)), TopicValidatorResult.Ignore, 'relayed by an honest peer')
    assert.equal(validate(peer('bob'), messageOf('carol', 10)), TopicValidatorResult.Ignore, 'another origin\'s')
    assert.deepEqual(screened, ['mallory', 'carol'], 'mallory\'s second message was not screened; carol\'s was')
    assert.deepEqual(gossip.throttled, { sender: 0, origin: 1 }, 'the one ignored is counted as throttled, by an origin')
    mock.timers.tick(9_999)
    validate(peer('bob'), messageOf('mallory', 10, 3_000))
    assert.equal(screened.length, 2, 'not before it has paid its debt (at most 1,000) and one more')
    mock.timers.tick(20)
    validate(peer('bob'), messageOf('mallory', 10, 3_000))
    assert.equal(screened.length, 3, 'once paid, screened again')
    gossip.stop()
  })

  it('pays for those checked in a message refused for another op: the first refusal', () => {
    let screened = 0
    const { validate, gossip } = validatorOf(ops => {
      screened++
      const refused = ops.at(-1) as Op
      return { fresh: ops.slice(0, -1), known: 0, refusal: { op: refused, reason: 'bad signature', kind: 'signature', forged: true } }
    })
    assert.equal(validate(peer('mallory'), messageOf('mallory', 1_002)), TopicValidatorResult.Reject)
    assert.equal(validate(peer('mallory'), messageOf('mallory', 1_002)), TopicValidatorResult.Ignore)
    assert.equal(screened, 1)
    gossip.stop()
  })
})

describe('the per-peer rate limiter', () => {
  beforeEach(() => { mock.timers.enable({ apis: ['Date'], now: 1_000_000 }) })
  afterEach(() => { mock.timers.reset() })

  const takes = (limiter: RateLimiter, peer: string, count: number): number => {
    let taken = 0
    for (let i = 0; i < count; i++) if (limiter.take(peer)) taken++
    return taken
  }

  it('forgets a peer once its bucket has refilled (it would start full anyway), and only then', () => {
    const limiter = new RateLimiter(5_000, 10_000)
    for (let i = 0; i < 5_000; i++) limiter.take(`gone-${i}`)
    assert.equal(takes(limiter, 'mallory', 10_000), 10_000)
    mock.timers.tick(1_999)
    assert.equal(limiter.take('carol'), true)
    assert.equal(limiter.tracked, 5_002, 'a bucket not yet full is kept')
    mock.timers.tick(1)
    assert.equal(limiter.take('carol'), true)
    assert.equal(limiter.tracked, 1, 'the buckets full again (the 5,000 gone peers\' and mallory\'s) are forgotten; carol\'s is kept')
    assert.equal(takes(limiter, 'mallory', 20_000), 10_000, 'mallory starts again from a full bucket, as her own would be by now')
  })

  it('keeps at most 10,000 buckets: peers beyond them while all are in use share one, and no bucket is emptied', () => {
    const limiter = new RateLimiter(5_000, 10_000)
    for (let i = 0; i < 10_000; i++) limiter.take(`busy-${i}`)
    let taken = 0
    for (let i = 0; i < 20_000; i++) if (limiter.take(`fresh-${i}`)) taken++
    assert.equal(taken, 10_000, 'the newcomers had one burst between them')
    assert.ok(limiter.tracked <= 10_001, `${limiter.tracked} buckets kept`)
    assert.equal(takes(limiter, 'busy-0', 10_000), 9_999, 'a peer kept in the map keeps its bucket')
  })
})
