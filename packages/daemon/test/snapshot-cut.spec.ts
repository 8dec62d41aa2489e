/**
 * A snapshot cut short leaves the node as it was (README, Guarantees 6): a
 * member that offers a new node a snapshot of its own rows and hangs up
 * halfway through them leaves the node holding none of them, counting
 * nothing of the member's; the next pull, answered whole, gives it every row.
 * Real murmurd; the member is a libp2p node in the test process.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { EMPTY_ACC, attestationKey, digestOf, encodeAttestation, xorInto, type Frame, type Hello, type Mark, type Op } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, logged, waitFor } from './harness.js'
import { FAST } from './hostile-checks.js'

const ROWS = 40
const done: Frame = { kind: 'control', message: { t: 'done' } }
const base64 = (acc: Uint8Array): string => Buffer.from(acc).toString('base64')

describe('a snapshot cut short', () => {
  const cluster = new TestCluster()
  let mallory: Attacker | undefined
  after(async () => {
    await mallory?.stop()
    await cluster.close()
  })

  it('leaves a new node holding none of its rows and counting none of its ops; the next, whole, gives it every row', async () => {
    const server = await Attacker.start()
    mallory = server
    // mallory's own rows 1..ROWS, each signed alone, below a floor of hers, and her attestation vouching for them
    const own: Op[] = Array.from({ length: ROWS }, (_, i) => server.op(`m:${String(i).padStart(2, '0')}`, `row ${i}`))
    let acc: Uint8Array = EMPTY_ACC
    for (const op of own) acc = xorInto(acc, digestOf(op))
    const last = own.at(-1) as Op
    const floor: Mark = { seq: last.seq, wall: last.wall, logical: last.logical, acc }
    const attestation = server.op(attestationKey(server.id), null, { wall: last.wall + 1, value: encodeAttestation(new Map([[server.id, floor]])) })
    const offer = (hello: Hello): Frame[] => [
      server.snapshotHello(hello, { [server.id]: attestation.seq }, { [server.id]: [floor.seq, floor.wall, floor.logical, base64(floor.acc)] }),
      { kind: 'attest', ops: [attestation] }
    ]
    let cut = 0
    let whole = 0
    // the whole snapshot only once the test has looked at carol after the cut
    let allow: () => void = () => {}
    const allowed = new Promise<void>(resolve => { allow = resolve })
    server.answer = async function * (_puller, hello) {
      for (const frame of offer(hello)) yield frame
      if (cut === 0) {
        // half the rows, then the stream is gone: no more rows, no done
        cut++
        yield { kind: 'import', ops: own.slice(0, ROWS / 2) }
        throw new Error('mallory hangs up halfway through her snapshot')
      }
      await allowed
      whole++
      yield { kind: 'import', ops: own.slice(0, ROWS / 2) }
      yield { kind: 'import', ops: own.slice(ROWS / 2) }
      yield { kind: 'ops', ops: [attestation] }
      yield done
    }
    const address = server.node.getMultiaddrs().map(String).find(a => a.includes('/ip4/127.0.0.1/')) as string
    // carol holds nothing: mallory's snapshot is how she catches up on mallory's rows
    const carol = await cluster.start('carol', { peers: [address], args: [...FAST, '--tombstone-grace', '10000'] })
    await waitFor(() => cut === 1, 'mallory to cut her first snapshot short', 15_000)
    await logged(carol, /sync from peer failed/, 'carol to see the pull fail')
    // as it was: no row of the half she was sent, nothing of mallory's counted
    const status = await carol.status()
    assert.equal(status.versionVector[server.id], undefined, 'carol counts none of mallory\'s ops after the cut')
    assert.equal((await carol.entries('m:')).length, 0, 'carol holds none of the rows sent before the cut')
    // the next pull is answered whole: every row
    allow()
    await waitFor(async () => (await carol.entries('m:')).length === ROWS, 'carol to take the whole snapshot on a later pull', 20_000)
    assert.ok(whole >= 1)
    assert.equal((await carol.status()).versionVector[server.id], attestation.seq)
    await logged(carol, /"snapshot":true/, 'carol took the snapshot')
  })
})
