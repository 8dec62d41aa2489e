/**
 * Who may write: with an allow-list, ops whose origin is not on it are
 * refused wherever they arrive: relayed by a member that accepts them (gossip
 * forwards whatever its own node accepted, and sync serves it from storage),
 * or sent on purpose by a hostile member (test/attacker.ts) — published on
 * gossip, served in a pull, or carried in a snapshot with the stranger's own
 * attestation vouching for them.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { EMPTY_ACC, attestationKey, digestOf, encodeAttestation, xorInto, type Frame, type Mark, type Op } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, logged, waitFor, type TestNode } from './harness.js'

const FAST = ['--anti-entropy-interval', '300', '--anti-entropy-max-interval', '600']
const done: Frame = { kind: 'control', message: { t: 'done' } }
// refused ops and gossip messages rejected whole (a message of a stranger's ops is the latter)
const rejected = async (node: TestNode): Promise<number> => { const { counters } = await node.status(); return counters.rejected + counters.rejectedMessages }
const markOf = (op: Op): Mark => ({ seq: op.seq, wall: op.wall, logical: op.logical, acc: xorInto(EMPTY_ACC, digestOf(op)) })
const base64 = (acc: Uint8Array): string => Buffer.from(acc).toString('base64')
const addressOf = (attacker: Attacker): string => attacker.node.getMultiaddrs().map(String).find(a => a.includes('/ip4/127.0.0.1/')) as string

describe('allow-list for writes', () => {
  const cluster = new TestCluster()
  const attackers: Attacker[] = []
  after(async () => {
    await Promise.all(attackers.map(async attacker => { await attacker.stop() }))
    await cluster.close()
  })

  it('refuses ops from an origin that is not allowed, relayed by a member that accepts them', async () => {
    // bob is open and relays; alice allows only bob; carol talks only to bob
    const bob = await cluster.start('bob', { args: FAST })
    const bobId = (await bob.status()).id
    const alice = await cluster.start('alice', { args: ['--allow', bobId, ...FAST], peers: [await bob.addr()] })
    const carol = await cluster.start('carol', { peers: [await bob.addr()], args: FAST })
    await carol.put('from:carol', 'not allowed at alice')
    await bob.put('from:bob', 'allowed')
    await waitFor(async () => await bob.value('from:carol') !== undefined, 'bob to accept carol\'s write')
    await waitFor(async () => await alice.value('from:bob') === 'allowed', 'alice to get bob\'s write')
    await waitFor(async () => (await alice.status()).counters.rejected > 0, 'alice to refuse carol\'s op')
    // anti-entropy runs while we wait: the relayed op must stay out, by gossip and by sync
    assert.equal((await alice.ctl(['get', 'from:carol'])).code, 4)
    await logged(alice, /not on the allow-list/, 'alice refused carol\'s op')
  })

  it('refuses a stranger\'s genuinely signed ops that a listed member publishes on gossip, serves in a pull, or puts in a snapshot', async () => {
    // mallory is on the lists; eve is not, and signs her own ops, which mallory sends on
    const [mallory, eve] = [await Attacker.start(), await Attacker.start()]
    attackers.push(mallory, eve)
    const dave = await cluster.start('dave', { args: ['--allow', mallory.id, ...FAST] })
    await mallory.dial(await dave.addr())

    await mallory.publish([eve.op('eve:gossip', 'by gossip')])
    await waitFor(async () => await rejected(dave) >= 1, 'dave to refuse eve\'s op on gossip')

    const served = eve.op('eve:pulled', 'in a pull')
    mallory.answer = (_puller, hello) => [mallory.hello(hello), { kind: 'ops', ops: [served] }, done]
    const asked = mallory.pulls.length
    await waitFor(() => mallory.pulls.length > asked, 'dave to pull from mallory')
    await waitFor(async () => await rejected(dave) >= 2, 'dave to refuse eve\'s op in a pull')

    // a new node, listed with mallory, offered a snapshot holding eve's row under eve's own attestation
    const row = eve.op('eve:snapshot', 'in a snapshot')
    const eveAttests = eve.op(attestationKey(eve.id), null, { wall: row.wall + 1, value: encodeAttestation(new Map([[eve.id, markOf(row)]])) })
    const own = mallory.op('mallory:own', 'mallory\'s own')
    const malloryAttests = mallory.op(attestationKey(mallory.id), null, { wall: own.wall + 1, value: encodeAttestation(new Map([[eve.id, markOf(row)], [mallory.id, markOf(own)]])) })
    mallory.answer = (_puller, hello) => [
      mallory.snapshotHello(hello, { [eve.id]: eveAttests.seq, [mallory.id]: malloryAttests.seq }, {
        [eve.id]: [row.seq, row.wall, row.logical, base64(markOf(row).acc)],
        [mallory.id]: [own.seq, own.wall, own.logical, base64(markOf(own).acc)]
      }),
      { kind: 'attest', ops: [malloryAttests, eveAttests] },
      { kind: 'import', ops: [row, own] },
      { kind: 'ops', ops: [malloryAttests, eveAttests] },
      done
    ]
    const frank = await cluster.start('frank', { args: ['--allow', mallory.id, ...FAST], peers: [addressOf(mallory)] })
    await waitFor(async () => await frank.value('mallory:own') === 'mallory\'s own', 'frank to take mallory\'s snapshot of her own row')
    await waitFor(async () => await rejected(frank) >= 1, 'frank to refuse eve\'s ops in the snapshot')

    for (const node of [dave, frank]) {
      await logged(node, /not on the allow-list/, `${node.name} refused eve's ops`)
      assert.deepEqual((node.userRows() as Array<{ key: string }>).filter(r => r.key.startsWith('eve:')), [], `no row of eve's on ${node.name}`)
      assert.equal((await node.status()).versionVector[eve.id], undefined, `${node.name} counts none of eve's ops`)
    }
  })
})
