/**
 * README promises about a hostile member, tried on real murmurd processes
 * where only in-process or simulator tests tried them before (test/attacker.ts
 * is the member: a libp2p node in this process with a key of its own):
 *
 * - a snapshot it serves to a new node, with floors far above a writer's real
 *   seq and its own attestation vouching for them, makes the node jump no
 *   origin past what that origin vouches, take no forged row, and miss
 *   nothing the writer wrote;
 * - an op of its own stamped within the hour but past `--max-clock-skew`
 *   waits, uncounted, without dragging the node's clock, and applies once the
 *   clock reaches it;
 * - an expiry changed on the way is refused (it is inside the signed op), and
 *   an op older than an expired write brings the key back nowhere.
 *
 * - a member whose own ops a new node took from its snapshot, withdrawing its
 *   mark for them with a later attestation, keeps that node from its honest
 *   peers no longer than the stuck rule's wait.
 *
 * - a snapshot offered with floors nothing vouches for, which the node
 *   declines, costs it one row read: the pull ends there, and the next asks
 *   for none (`rows: false`) and takes the ops that follow them.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { EMPTY_ACC, SYNC_PROTOCOL, attestationKey, digestOf, encodeAttestation, proveOps, xorInto, type Frame, type Hello, type Mark, type Op } from '@murmur/core'
import { Attacker, freshWriter } from './attacker.js'
import { TestCluster, logged, waitFor, type TestNode } from './harness.js'

const FAST = ['--anti-entropy-interval', '300']
// attestations every second (a tenth of the grace), not every 10 s: a node that took a snapshot pulls from a peer only once
// that peer caught up with it, which waits for its attestation
const SNAPSHOT = [...FAST, '--tombstone-grace', '10000']
/** The stuck rule's wait for the test that waits for it (murmurd's default is 30 s). */
const STUCK_WAIT_MS = 3_000
const done: Frame = { kind: 'control', message: { t: 'done' } }

/** `murmurctl get`'s value, or its exit code when it fails (4: absent). */
const value = async (node: TestNode, key: string): Promise<string | number> => {
  const result = await node.ctl(['get', key])
  return result.code === 0 ? result.stdout.trim() : result.code ?? -1
}
const seqOf = async (node: TestNode, origin: string): Promise<number | undefined> => (await node.status()).versionVector[origin]
const base64 = (acc: Uint8Array): string => Buffer.from(acc).toString('base64')
/** Every kv_store column of the user rows, read from the file: what replicas must hold byte for byte. */
function storeRows (node: TestNode): Array<{ key: string, origin: string, expires: number | null }> {
  const db = new Database(join(node.dataDir, 'murmur.db'), { readonly: true, fileMustExist: true })
  try {
    return db.prepare("SELECT key, value, wall, logical, origin, seq, sig, digest, type, expires, refresh FROM kv_store WHERE key >= CAST(x'01' AS TEXT) ORDER BY key").all() as Array<{ key: string, origin: string, expires: number | null }>
  } finally {
    db.close()
  }
}

/**
 * Alice, who wrote three keys, and mallory, started, with her own seq 1 signed (not sent) and the mark of holding
 * it, for a snapshot of hers to carry as a row below her floor.
 */
async function aliceAndMallorysOwn (cluster: TestCluster, args = SNAPSHOT): Promise<{ alice: TestNode, aliceId: string, mallory: Attacker, own: Op, ownMark: Mark }> {
  const alice = await cluster.start('alice', { args })
  const aliceId = (await alice.status()).id as string
  for (const key of ['a:1', 'a:2', 'a:3']) await alice.put(key, `alice ${key}`)
  const mallory = await Attacker.start()
  const own = mallory.op('mallory:own', 'mallory\'s own')
  return { alice, aliceId, mallory, own, ownMark: { seq: own.seq, wall: own.wall, logical: own.logical, acc: xorInto(EMPTY_ACC, digestOf(own)) } }
}

describe('a hostile member serves a new node a snapshot that claims a writer\'s ops it never wrote', () => {
  const cluster = new TestCluster()
  let mallory: Attacker
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('the new node jumps no writer past what that writer vouches for, takes no forged row, and ends with the writer\'s rows and later writes', async () => {
    const started = await aliceAndMallorysOwn(cluster)
    mallory = started.mallory
    const { alice, aliceId, own, ownMark } = started
    // mallory's own row (seq 1, as if below a floor of hers) and her attestation (seq 2): she holds her own seq 1, and
    // alice's ops up to a million
    const claim: Mark = { seq: 1_000_000, wall: own.wall - 1_000, logical: 0, acc: new Uint8Array(32) }
    const attestation = mallory.op(attestationKey(mallory.id), null, { wall: own.wall + 1, value: encodeAttestation(new Map([[aliceId, claim], [mallory.id, ownMark]])) })
    const real = await seqOf(alice, aliceId) as number
    // a row forged as alice's, under the floor claimed for her: signed by mallory's key
    const forged = mallory.sign([mallory.op('forged:alice', 'forged', { origin: aliceId, seq: real + 1 }, false)])
    const lie = 1_000
    mallory.answer = (_puller, hello) => [
      mallory.snapshotHello(hello, { [aliceId]: lie, [mallory.id]: attestation.seq }, { [aliceId]: [lie, claim.wall, 0, base64(claim.acc)], [mallory.id]: [own.seq, own.wall, own.logical, base64(ownMark.acc)] }),
      { kind: 'attest', ops: [attestation] },
      { kind: 'import', ops: [...forged, own] },
      { kind: 'ops', ops: [attestation] },
      done
    ]
    const address = mallory.node.getMultiaddrs().map(String).find(a => a.includes('/ip4/127.0.0.1/')) as string
    const carol = await cluster.start('carol', { peers: [address], args: SNAPSHOT })
    const carolId = (await carol.status()).id as string
    // whatever happens from here on, carol never counts more of alice's ops than alice wrote
    const never = async (): Promise<void> => {
      const held = await seqOf(carol, aliceId) ?? 0
      const wrote = await seqOf(alice, aliceId) as number
      assert.ok(held <= wrote, `carol counts alice's ops up to ${held}; alice wrote ${wrote}`)
    }
    // the snapshot was offered and taken where it may be: mallory's own row, which she vouches for, is carol's
    await waitFor(async () => await carol.value('mallory:own') === 'mallory\'s own', 'carol to take mallory\'s snapshot of her own row')
    assert.ok(mallory.pulls.some(p => p.puller === carolId), 'carol pulled from mallory')
    await logged(carol, /"snapshot":true/, 'carol took a snapshot from mallory')
    await waitFor(async () => (await carol.status()).counters.rejected >= 1, 'carol to refuse the row forged as alice\'s')
    await never()
    assert.equal(await seqOf(carol, aliceId), undefined, 'carol holds nothing of alice\'s before she meets her')
    assert.equal(await value(carol, 'forged:alice'), 4)
    // now carol meets alice
    assert.equal((await carol.ctl(['connect', await alice.addr()])).code, 0)
    await waitFor(async () => {
      await never()
      return JSON.stringify(carol.userRows().filter(row => (row as { origin: string }).origin === aliceId)) === JSON.stringify(alice.userRows().filter(row => (row as { origin: string }).origin === aliceId)) &&
        (await seqOf(carol, aliceId) ?? 0) >= 3
    }, 'carol to hold alice\'s rows')
    await alice.put('a:later', 'after the lie')
    await waitFor(async () => {
      await never()
      return await carol.value('a:later') === 'after the lie'
    }, 'alice\'s later put to reach carol')
    // mallory's own row reaches alice through carol (a writer the snapshot named, vouched for by herself): the same rows
    await waitFor(async () => {
      await never()
      return JSON.stringify(carol.userRows()) === JSON.stringify(alice.userRows())
    }, 'carol\'s user rows to be alice\'s')
    await never()
    for (const node of [alice, carol]) assert.equal(await value(node, 'forged:alice'), 4, `no forged row on ${node.name}`)
  })
})

describe('a hostile member stamps an op of its own past --max-clock-skew, within the hour', () => {
  const cluster = new TestCluster()
  let mallory: Attacker
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('the op waits uncounted and unread, the node\'s own writes stay stamped by its own clock, and it applies once the clock reaches it', async () => {
    const SKEW = 1_000
    const alice = await cluster.start('alice', { args: [...FAST, '--max-clock-skew', String(SKEW)] })
    mallory = await Attacker.start()
    await mallory.dial(await alice.addr())
    const ahead = mallory.op('ahead', 'from 8 s ahead', { wall: Date.now() + 8_000 }) // time enough on a loaded machine to find it held and check alice meanwhile
    await mallory.publish([ahead])
    await waitFor(async () => (await alice.status()).counters.held >= 1, 'alice to hold the op stamped ahead')
    // and says who sent it
    await logged(alice, new RegExp(`"peer":"${mallory.id}"[^\\n]*"msg":"received ops stamped beyond the clock-skew bound`), 'which peer sent ops stamped ahead')
    // until her clock is within the skew of its stamp, alice neither shows it nor counts it, and her own writes are
    // stamped by her clock, not dragged up to the op's
    let puts = 0
    for (; Date.now() < ahead.wall - SKEW - 1_000; puts++) {
      const status = await alice.status()
      assert.equal(status.versionVector[mallory.id], undefined, 'nothing of mallory\'s counts as held')
      assert.equal(await value(alice, 'ahead'), 4, 'the op is not read')
      await alice.put(`own:${puts}`, 'meanwhile')
      const own = (await alice.json(['get', `own:${puts}`])).version as { wall: number }
      assert.ok(own.wall < ahead.wall - SKEW, `alice's own put is stamped ${own.wall - ahead.wall} ms from the op`)
    }
    assert.ok(puts > 0, 'alice was checked while she held the op')
    const applied = await waitFor(async () => await alice.value('ahead') === 'from 8 s ahead' && Date.now(), 'alice to apply the op once her clock reaches it', 15_000)
    assert.ok(applied >= ahead.wall - SKEW, `applied ${ahead.wall - applied} ms before its stamp`)
    const status = await alice.status()
    assert.equal(status.versionVector[mallory.id], ahead.seq)
    assert.equal(status.counters.held, 0)
  })
})

describe('a hostile member attacks an expiry', () => {
  const cluster = new TestCluster()
  let mallory: Attacker
  let alice: TestNode
  let bob: TestNode
  let carol: TestNode
  let bobId: string
  let lease: Op & { expires: number }
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('an expiry changed on the way (an hour later, bob\'s proof kept) is refused and counted, and the key still expires on every node', async () => {
    alice = await cluster.start('alice', { args: FAST })
    bob = await cluster.start('bob', { peers: [await alice.addr()], args: FAST })
    bobId = (await bob.status()).id as string
    mallory = await Attacker.start()
    await mallory.dial(await alice.addr())
    assert.equal((await bob.ctl(['put', '--ttl', '2s', 'lease', 'bob holds it'])).code, 0)
    lease = await waitFor(() => mallory.captured.find(op => op.origin === bobId && op.key === 'lease'), 'mallory to capture bob\'s put from gossip') as Op & { expires: number }
    assert.ok(lease.expires !== undefined)
    // carol meets mallory alone: the changed op reaches her before bob's does
    const address = mallory.node.getMultiaddrs().map(String).find(a => a.includes('/ip4/127.0.0.1/')) as string
    carol = await cluster.start('carol', { peers: [address], args: FAST })
    await waitFor(() => mallory.node.services.pubsub.getSubscribers(mallory.topic).length >= 2, 'carol to join mallory\'s topic mesh')
    // by gossip the changed op's message is rejected whole (counters.rejectedMessages)
    const refusals = async (node: TestNode): Promise<number> => { const { counters } = await node.status(); return (counters.rejected as number) + (counters.rejectedMessages as number) }
    const rejected = await Promise.all([alice, carol].map(refusals))
    // (a) the same op, its expiry an hour later, with bob's proof
    await mallory.publish([{ ...lease, expires: lease.expires + 3_600_000 }])
    for (const [i, node] of [alice, carol].entries()) {
      await waitFor(async () => await refusals(node) > (rejected[i] as number), `${node.name} to refuse and count the changed expiry`)
    }
    assert.equal((await carol.status()).versionVector[bobId], undefined, 'carol holds nothing of bob\'s yet: the changed op was the first she saw')
    assert.equal((await carol.ctl(['connect', await alice.addr()])).code, 0)
    const nodes = [alice, bob, carol]
    await waitFor(async () => {
      for (const node of nodes) if (await node.value('lease') !== undefined) return false
      return storeRows(carol).some(row => row.key === 'lease')
    }, 'the key to expire on every node, carol holding bob\'s write', 10_000)
    assert.ok(Date.now() >= lease.expires, 'not before its expiry')
    for (const node of nodes) {
      assert.deepEqual(storeRows(node).filter(row => row.key === 'lease').map(row => [row.origin, row.expires]), [[bobId, lease.expires]], `${node.name} holds bob's write with its signed expiry`)
    }
  })

  it('an op older than the expired write, sent once the key expired everywhere, brings it back on no node and leaves their rows identical', async () => {
    const nodes = [alice, bob, carol]
    for (const node of nodes) assert.equal(await value(node, 'lease'), 4, `the key has expired on ${node.name}`)
    // an op of mallory's own for the key, stamped before bob's write, by gossip and by sync
    const older = mallory.op('lease', 'mallory\'s older value', { wall: lease.wall - 500 })
    mallory.answer = (_puller, hello) => [mallory.hello(hello, { vector: { ...hello.vector, [mallory.id]: older.seq } }), { kind: 'ops', ops: [older] }, done]
    await mallory.publish([older])
    await waitFor(async () => {
      for (const node of nodes) if (((await node.status()).versionVector[mallory.id] ?? 0) < older.seq) return false
      return true
    }, 'every node to apply mallory\'s older op')
    for (const node of nodes) assert.equal(await value(node, 'lease'), 4, `the key stays absent on ${node.name}`)
    await waitFor(() => JSON.stringify(storeRows(alice)) === JSON.stringify(storeRows(bob)) && JSON.stringify(storeRows(bob)) === JSON.stringify(storeRows(carol)), 'identical kv_store rows')
    assert.deepEqual(storeRows(alice).filter(row => row.key === 'lease').map(row => [row.origin, row.expires]), [[bobId, lease.expires]], 'bob\'s expired write is still the row')
  })
})

describe('a hostile member withdraws the mark for her own ops that let a new node jump them', () => {
  const cluster = new TestCluster()
  let mallory: Attacker
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  // carol took mallory's own ops from mallory's snapshot (a floor for mallory at 1, vouched by mallory's attestation),
  // and refuses to pull from alice while alice lacks them (core sync/pull.ts, greet: "the peer lacks ops this node has
  // collected"); alice can take them only by a jump, and mallory's newer attestation names none of her own ops. A
  // member cannot unsay what it attested of its own ops: carol's snapshot carries mallory's earlier attestation too
  // (sync/serve.ts, `vouching`), and alice, behind a floor no member's attestation reaches, takes it once stuck for
  // --stuck-wait (30 s; 3 s here, to wait less). Before, the two stayed apart until mallory had been silent for the
  // retention (7 days); with a stuck wait past the test's deadline they stay apart through it.
  it('the new node still catches up from an honest peer, the member gone, within the stuck rule\'s wait', async () => {
    const stuck = [...SNAPSHOT, '--stuck-wait', String(STUCK_WAIT_MS)]
    const started = await aliceAndMallorysOwn(cluster, stuck)
    mallory = started.mallory
    const { alice, aliceId, own, ownMark } = started
    // her own seq 1 as a row below her floor, vouched for by her attestation (seq 2); then an attestation (seq 3) of nothing
    const attestation = mallory.op(attestationKey(mallory.id), null, { wall: own.wall + 1, value: encodeAttestation(new Map([[mallory.id, ownMark]])) })
    const withdrawn = mallory.op(attestationKey(mallory.id), null, { wall: own.wall + 2, value: encodeAttestation(new Map()) })
    mallory.answer = (_puller, hello) => [
      { kind: 'control', message: { t: 'hello', group: hello.group, name: 'mallory', now: Date.now(), vector: { [mallory.id]: withdrawn.seq }, snapshot: true, horizon: [0, 0], floors: { [mallory.id]: [own.seq, own.wall, own.logical, base64(ownMark.acc)] } } },
      { kind: 'attest', ops: [attestation] },
      { kind: 'import', ops: [own] },
      { kind: 'ops', ops: [attestation, withdrawn] },
      done
    ]
    const address = mallory.node.getMultiaddrs().map(String).find(a => a.includes('/ip4/127.0.0.1/')) as string
    const carol = await cluster.start('carol', { peers: [address], args: stuck })
    await waitFor(async () => (await seqOf(carol, mallory.id) ?? 0) >= withdrawn.seq, 'carol to take mallory\'s snapshot and her later attestation')
    await mallory.stop()
    assert.equal((await carol.ctl(['connect', await alice.addr()])).code, 0)
    await waitFor(async () => (await seqOf(carol, aliceId) ?? 0) >= 3 && await carol.value('a:3') === 'alice a:3', 'carol to catch up with alice', STUCK_WAIT_MS + 20_000)
    await waitFor(async () => await seqOf(alice, mallory.id) === withdrawn.seq, 'alice to take mallory\'s ops too, from carol')
  })
})

describe('a member offers a snapshot the node declines', () => {
  const cluster = new TestCluster()
  let mallory: Attacker
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  // floors for mallory's own ops with no attestation of hers to vouch for them: bob may not jump them, ever. Before
  // 3.2.0 he read every row of such a snapshot (each checked) to get the ops after them, on every pull from her.
  it('ends the pull at its first row and asks again at once for none: the ops after them still come', async () => {
    mallory = await Attacker.start()
    // rows enough that reading them all stands far from what sits in flight when bob ends the pull (8-13 of them)
    const ROWS = 256
    const rows = mallory.sign(Array.from({ length: ROWS }, (_, i) => mallory.op(`row/${i}`, 'r'.repeat(30_000), {}, false)))
    const writer = await freshWriter()
    const later: Op = { key: 'after/rows', value: Buffer.from('came'), wall: Date.now(), logical: 0, origin: writer.origin, seq: 1 }
    proveOps([later], writer.sign)
    const floors = { [mallory.id]: [ROWS, (rows.at(-1) as Op).wall, 0, base64(EMPTY_ACC)] as [number, number, number, string] }
    let written = 0
    mallory.answer = async function * (_puller: string, hello: Hello): AsyncGenerator<Frame> {
      yield mallory.snapshotHello(hello, { [mallory.id]: ROWS, [writer.origin]: 1 }, floors)
      if (hello.rows !== false) {
        for (const row of rows) {
          yield { kind: 'import', ops: [row] }
          written++ // the stream took it
        }
      }
      yield { kind: 'ops', ops: [later] }
      yield done
    }
    const address = mallory.node.getMultiaddrs().map(String).find(a => a.includes('/ip4/127.0.0.1/')) as string
    const bob = await cluster.start('bob', { peers: [address], args: FAST })
    await waitFor(async () => await value(bob, 'after/rows') === 'came', 'bob to take the ops after the rows')
    const pulls = mallory.pulls.filter(pull => pull.hello.name === 'bob')
    const [first, second] = pulls
    const seen = JSON.stringify(pulls.map(pull => ({ protocol: pull.protocol, rows: pull.hello.rows, at: pull.at - (first?.at ?? 0) })))
    assert.equal(first?.protocol, SYNC_PROTOCOL, `bob's pulls: ${seen}`)
    assert.equal(first?.hello.rows, undefined, `the first pull asks for the rows: ${seen}`)
    assert.equal(second?.hello.rows, false, `the next asks for none: ${seen}`)
    assert.ok((second?.at ?? Infinity) - (first?.at ?? 0) < 5_000, `asked again at once, not at the next anti-entropy round: ${(second?.at ?? Infinity) - (first?.at ?? 0)} ms`)
    await logged(bob, /"aborted":"declined the snapshot the server offered/, 'bob to log the declined snapshot', 15_000)
    // yamux lets ~256 KiB (8 rows) sit in flight; 13 left mallory whenever the whole file ran, 8 when this test ran alone
    assert.ok(written < ROWS / 4, `bob's first pull read ${written} of ${ROWS} rows`)
    assert.equal(await seqOf(bob, mallory.id), undefined, 'no op of mallory\'s taken')
    console.log(`# a declined snapshot: ${written} of ${ROWS} rows (30 kB each) left mallory before bob ended the pull`)
  })
})
