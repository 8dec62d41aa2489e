/**
 * A hostile peer against two real daemons: a libp2p node in this process
 * that speaks gossipsub and murmur's sync protocol, and lies in both. It
 * forges another node's ops, alters values, replays old ops, stamps ops far
 * in the future, claims a version vector it does not have, and floods the
 * topic. None of it may change a replica, and the honest nodes keep converging.
 */
import '../src/polyfill.js'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeOps, encodeOps, proveOps, type Op, type OpProof } from '@murmur/core'
import { createLibp2p, type Libp2p } from 'libp2p'
import { topicFor } from '../src/gossip.js'
import { batchSigner } from '../src/op-signing.js'
import { SYNC_PROTOCOL, decodeFrame, encodeControl, encodeOpsFrame } from '../src/sync/messages.js'
import { TestCluster, waitFor, type TestNode } from './harness.js'

const TOPIC = topicFor('default')

describe('a hostile peer', () => {
  const cluster = new TestCluster()
  let alice: TestNode
  let bob: TestNode
  let attacker: Libp2p<{ pubsub: GossipSub }>
  /** Signs ops as one batch with the attacker's own key. */
  let sign: (...ops: Op[]) => void
  let bobId: string
  let captured: Op | undefined
  /** What the attacker's sync server sends to whoever pulls from it. */
  let syncPages: Op[][] = []
  let syncVector: Record<string, number> = {}

  before(async () => {
    alice = await cluster.start('alice', { args: ['--anti-entropy-interval', '300'] })
    bob = await cluster.start('bob', { peers: [await alice.addr()], args: ['--anti-entropy-interval', '300'] })
    bobId = (await bob.status()).id
    const key = await generateKeyPair('Ed25519')
    const signer = batchSigner(key, 'default')
    sign = (...ops) => { proveOps(ops, signer) }
    attacker = await createLibp2p({
      privateKey: key,
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, globalSignaturePolicy: 'StrictNoSign' }) }
    })
    attacker.services.pubsub.addEventListener('message', event => {
      const ops = decodeOps(event.detail.data)
      captured ??= ops.find(op => op.origin === bobId)
    })
    await attacker.handle(SYNC_PROTOCOL, async stream => {
      const lp = lpStream(stream)
      decodeFrame((await lp.read()).subarray(), { maxValueBytes: 1 << 20 })
      await lp.write(encodeControl({ t: 'hello', group: 'default', name: 'mallory', now: Date.now(), vector: syncVector }))
      for (const page of syncPages) await lp.write(encodeOpsFrame(page))
      await lp.write(encodeControl({ t: 'done', vector: syncVector }))
      await stream.close()
    })
    attacker.services.pubsub.subscribe(TOPIC)
    await attacker.start()
    await attacker.dial(multiaddr(await alice.addr()))
    await waitFor(() => attacker.services.pubsub.getSubscribers(TOPIC).length > 0, 'the attacker to join the topic mesh')
    await bob.put('config:real', 'genuine')
    await waitFor(() => captured, 'the attacker to capture one of bob\'s ops from gossip')
  })

  after(async () => {
    await attacker?.stop()
    await cluster.close()
  })

  const publish = async (ops: Op[]): Promise<void> => { await attacker.services.pubsub.publish(TOPIC, encodeOps(ops)) }
  const op = (key: string, value: string, extra: Partial<Op> = {}): Op =>
    ({ key, value: Buffer.from(value), wall: Date.now(), logical: 0, origin: attacker.peerId.toString(), seq: 1, ...extra })
  const rejected = async (node: TestNode): Promise<number> => (await node.status()).counters.rejected

  it('forged, unsigned and altered ops over gossip are rejected and change nothing', async () => {
    const before = await rejected(alice)
    const forged = op('config:real', 'forged', { origin: bobId, seq: 100 })
    sign(forged) // signed, but by the attacker's key, not bob's
    await publish([forged])
    await publish([op('attacker:unsigned', 'x')])
    const altered = op('attacker:altered', 'original', { seq: 2 })
    sign(altered)
    await publish([{ ...altered, value: Buffer.from('tampered') }])
    await waitFor(async () => await rejected(alice) >= before + 2, 'alice to count the rejected messages')
    assert.match(alice.stderr, /rejected gossip message/)
    for (const node of [alice, bob]) {
      assert.equal((await node.ctl(['get', 'config:real'])).stdout, 'genuine\n')
      assert.equal((await node.ctl(['get', 'attacker:unsigned'])).code, 4)
      assert.equal((await node.ctl(['get', 'attacker:altered'])).code, 4)
    }
  })

  it('over sync: forged and altered relays are refused, a replay changes nothing, and a false vector is not believed', async () => {
    const real = captured as Op
    const aliceVectorBefore = (await alice.status()).versionVector
    syncPages = [[
      { ...real, value: Buffer.from('altered in transit'), proof: { ...real.proof as OpProof } },
      { ...op('config:real', 'forged', { origin: bobId, seq: real.seq + 1, wall: real.wall + 1 }), proof: { sig: new Uint8Array(64), first: real.seq + 1, digests: new Uint8Array(32) } },
      real // a replay of a genuine op
    ]]
    syncVector = { [bobId]: 1_000_000 }
    const before = await rejected(alice)
    await waitFor(async () => await rejected(alice) >= before + 2, 'alice to pull from the attacker and refuse its pages', 15_000)
    await waitFor(() => /not trusting its version vector/.test(alice.stderr), 'alice to distrust the attacker\'s vector')
    const status = await alice.status()
    assert.equal(status.versionVector[bobId], aliceVectorBefore[bobId], 'the claimed vector was not merged')
    assert.equal((await alice.ctl(['get', 'config:real'])).stdout, 'genuine\n')
    // bob keeps replicating to alice past the attacker's claim
    await bob.put('config:after', 'still flowing')
    await waitFor(async () => (await alice.ctl(['get', 'config:after'])).stdout === 'still flowing\n', 'bob\'s next write to reach alice')
    syncPages = []
    syncVector = {}
  })

  it('ops stamped far in the future are held or rejected, never applied', async () => {
    const far = op('attacker:future', 'from 2 hours ahead', { seq: 3, wall: Date.now() + 2 * 3600_000 })
    sign(far)
    const before = await rejected(alice)
    await publish([far])
    await waitFor(async () => await rejected(alice) > before, 'alice to reject the far-future op')
    assert.equal((await alice.ctl(['get', 'attacker:future'])).code, 4)
  })

  it('a flood of invalid messages does not stop the honest nodes from converging', async () => {
    const started = Date.now()
    const flood = (async () => {
      for (let i = 0; i < 3000 && Date.now() - started < 15_000; i++) {
        await publish([op(`flood:${i}`, 'x', { seq: 10 + i })]).catch(() => {})
        if (i % 50 === 0) await new Promise(resolve => setImmediate(resolve))
      }
    })()
    for (let i = 0; i < 30; i++) await bob.put(`during-flood:${i}`, String(i))
    await flood
    await waitFor(async () => (await alice.ctl(['get', 'during-flood:29'])).stdout === '29\n', 'bob\'s writes to reach alice through the flood', 20_000)
    await waitFor(() => JSON.stringify(alice.rows()) === JSON.stringify(bob.rows()), 'identical replicas')
    assert.equal((alice.rows() as Array<{ key: string }>).filter(r => r.key.startsWith('flood:') || r.key.startsWith('attacker:')).length, 0)
    console.log(`# flood: ${Date.now() - started} ms to converge under a flood of invalid messages; alice rejected ${await rejected(alice)}`)
  })
})
