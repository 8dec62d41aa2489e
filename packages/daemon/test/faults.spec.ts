/**
 * murmur under real faults: hosts in network namespaces (scripts/netns-cluster.sh)
 * with partitions, packet loss, crashes, clock skew and churn. Every test
 * checks the promises in the README's "Guarantees": no acknowledged write is
 * lost (each is present or superseded by a higher version of its key), and
 * every replica's kv_store ends identical. Each prints what it measured.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { MurmurClient, type Version } from '@murmur/protocol'
import { NetnsCluster } from './netns.js'
import { fakeTime, noFakeTime } from './fake-time.js'
import { waitFor, type TestNode } from './harness.js'

const skip = NetnsCluster.available() ?? false
const FAST = ['--anti-entropy-interval', '1000']

interface Acked { key: string, value: string, version: Version }

const newer = (a: Version, b: Version): boolean =>
  a.wall !== b.wall ? a.wall > b.wall : a.logical !== b.logical ? a.logical > b.logical : a.origin > b.origin

/** Puts through the node's socket, recording every acknowledged write. */
async function putAll (node: TestNode, entries: Array<[string, string]>, acked: Acked[]): Promise<void> {
  const client = await MurmurClient.connect(node.socket)
  try {
    for (let i = 0; i < entries.length; i += 500) {
      const batch = entries.slice(i, i + 500)
      const results = await client.batch(batch.map(([key, value]) => ({ method: 'kv_put' as const, params: { key, value } })))
      results.forEach((r, j) => {
        const [key, value] = batch[j] as [string, string]
        if (r.error == null) acked.push({ key, value, version: (r.result as { version: Version }).version })
      })
    }
  } finally {
    client.close()
  }
}

type Row = { key: string, value: Buffer | null, wall: number, logical: number, origin: string, seq: number }

/** Polls until every node's kv_store rows are identical; returns the time it took. */
async function converge (nodes: TestNode[], timeoutMs = 30_000): Promise<{ ms: number, rows: Row[] }> {
  const started = Date.now()
  const rows = await waitFor(() => {
    const all = nodes.map(node => node.rows() as Row[])
    const first = JSON.stringify(all[0])
    return all.every(r => JSON.stringify(r) === first) ? all[0] : undefined
  }, `identical kv_store rows on ${nodes.map(n => n.name).join(', ')}`, timeoutMs, 100)
  return { ms: Date.now() - started, rows }
}

/** Every acknowledged write is in the final rows, or superseded by a higher version of its key. */
function assertNoLostWrites (rows: Row[], acked: Acked[]): void {
  const byKey = new Map(rows.map(row => [row.key, row]))
  for (const write of acked) {
    const row = byKey.get(write.key)
    assert.ok(row != null, `acknowledged write to ${write.key} is missing`)
    const same = row.wall === write.version.wall && row.logical === write.version.logical && row.origin === write.version.origin
    if (same) assert.equal(row.value == null ? null : Buffer.from(row.value).toString(), write.value, `${write.key} holds another value at the same version`)
    else assert.ok(newer(row, write.version), `acknowledged write to ${write.key} was replaced by an older version`)
  }
}

describe('faults (network namespaces)', { skip }, () => {
  let net: NetnsCluster
  let a: TestNode
  let b: TestNode
  let c: TestNode
  const acked: Acked[] = []

  after(async () => { await net?.close() })

  it('partition: both sides keep writing, and every replica converges on heal', async () => {
    net = await NetnsCluster.create(3)
    a = await net.start(1, 'a', { args: FAST })
    b = await net.start(2, 'b', { peers: [net.addr(1)], args: FAST })
    c = await net.start(3, 'c', { peers: [net.addr(1)], args: FAST })
    await putAll(a, [['config', 'v0'], ['shared', 'from-a-0']], acked)
    await converge([a, b, c])

    await net.isolate(3)
    await putAll(a, Array.from({ length: 200 }, (_, i) => [`majority:${i}`, 'a']), acked)
    await putAll(b, [['shared', 'from-b'], ['config', 'v1-b']], acked)
    await putAll(c, [...Array.from({ length: 200 }, (_, i) => [`minority:${i}`, 'c'] as [string, string]), ['shared', 'from-c'], ['config', 'v1-c']], acked)
    assert.equal((await c.ctl(['get', 'majority:0'])).code, 4, 'nothing crosses the partition')
    assert.equal((await a.ctl(['get', 'minority:0'])).code, 4, 'nothing crosses the partition')

    const healed = Date.now()
    await net.rejoin(3)
    const { ms, rows } = await converge([a, b, c])
    console.log(`# partition: ${acked.length} acknowledged writes; converged ${ms} ms after heal (${Date.now() - healed} ms incl. checks)`)
    assertNoLostWrites(rows, acked)
    assert.equal(rows.filter(r => r.key.startsWith('minority:')).length, 200)
    assert.equal(rows.filter(r => r.key.startsWith('majority:')).length, 200)
  })

  it('offline catch-up: a node stopped while thousands of keys change catches up on restart', async () => {
    assert.equal(await c.stop(), 0)
    await putAll(a, Array.from({ length: 5000 }, (_, i) => [`offline:${i}`, `value ${i}`]), acked)
    const restarted = Date.now()
    await c.start({ listen: net.addr(3), prefix: ['ip', 'netns', 'exec', net.namespace(3)], args: FAST })
    const { ms, rows } = await converge([a, b, c])
    const status = await c.status()
    console.log(`# offline catch-up: 5000 keys; converged ${Date.now() - restarted} ms after restart (${ms} ms after ready); ${status.counters.repaired} ops repaired`)
    assertNoLostWrites(rows, acked)
  })

  it('crash: kill -9 during a stream of acknowledged puts loses none of them', async () => {
    const client = await MurmurClient.connect(c.socket)
    const crashAcked: Acked[] = []
    let stop = false
    const writer = (async () => {
      for (let i = 0; i < 100_000 && !stop; i++) {
        const key = `crash:${i}`
        try {
          const { version } = await client.call('kv_put', { key, value: String(i) })
          crashAcked.push({ key, value: String(i), version })
        } catch {
          return // the daemon died under us: this put was not acknowledged
        }
      }
    })()
    await waitFor(() => crashAcked.length >= 200, '200 acknowledged puts before the crash')
    c.process?.kill('SIGKILL')
    await writer
    stop = true
    client.destroy()
    await c.start({ listen: net.addr(3), prefix: ['ip', 'netns', 'exec', net.namespace(3)], args: FAST })
    const local = new Map((c.rows() as Row[]).map(r => [r.key, r]))
    const lost = crashAcked.filter(w => local.get(w.key) == null)
    assert.deepEqual(lost, [], 'every put acknowledged before kill -9 is on disk after restart')
    acked.push(...crashAcked)
    const { ms, rows } = await converge([a, b, c])
    console.log(`# crash: ${crashAcked.length} puts acknowledged before kill -9, all present after restart; converged in ${ms} ms`)
    assertNoLostWrites(rows, acked)
  })

  it('loss: 30% packet loss while writing; converges once it stops', async () => {
    await net.loss(2, 30)
    const writes = [
      putAll(a, Array.from({ length: 300 }, (_, i) => [`loss:a:${i}`, 'a']), acked),
      putAll(b, Array.from({ length: 300 }, (_, i) => [`loss:b:${i}`, 'b']), acked),
      putAll(c, Array.from({ length: 300 }, (_, i) => [`loss:c:${i}`, 'c']), acked)
    ]
    await Promise.all(writes)
    await net.noloss(2)
    const { ms, rows } = await converge([a, b, c], 60_000)
    const repaired = (await b.status()).counters.repaired
    console.log(`# loss: 900 writes under 30% loss on b; converged ${ms} ms after the loss stopped; b repaired ${repaired} ops`)
    assertNoLostWrites(rows, acked)
  })

  it('churn: nodes leave and rejoin while writes continue', async () => {
    const d = await net.start(3, 'd', { peers: [net.addr(1)], listen: `/ip4/${net.ip(3)}/tcp/4002`, args: FAST })
    const nodes = [a, b, c, d]
    const started = Date.now()
    let round = 0
    for (; round < 6 && Date.now() - started < 60_000; round++) {
      const leaving = nodes[1 + (round % 3)] as TestNode // a stays up as the rendezvous
      await leaving.stop(round % 2 === 0 ? 'SIGTERM' : 'SIGKILL')
      const writer = nodes.filter(n => n !== leaving)[round % 3] as TestNode
      await putAll(writer, Array.from({ length: 100 }, (_, i) => [`churn:${round}:${i}`, writer.name]), acked)
      const host = leaving === d ? 3 : nodes.indexOf(leaving) + 1
      const listen = leaving === d ? `/ip4/${net.ip(3)}/tcp/4002` : net.addr(host)
      await leaving.start({ listen, prefix: ['ip', 'netns', 'exec', net.namespace(host)], peers: [net.addr(1)], args: FAST })
    }
    const { ms, rows } = await converge(nodes, 60_000)
    console.log(`# churn: ${round} leave/rejoin rounds with writes; converged ${ms} ms after the last rejoin; ${acked.length} acknowledged writes checked`)
    assertNoLostWrites(rows, acked)
    await d.stop()
  })
})

const skewSkip = skip !== false ? skip : noFakeTime

describe('clock skew (network namespaces, libfaketime)', { skip: skewSkip }, () => {
  let net: NetnsCluster
  after(async () => { await net?.close() })

  it('a node whose clock runs ahead: its ops wait, it is told, its writes do not win forever, and all converge', async () => {
    net = await NetnsCluster.create(3)
    const bound = ['--max-clock-skew', '3000', ...FAST]
    const a = await net.start(1, 'a', { args: bound })
    const b = await net.start(2, 'b', { peers: [net.addr(1)], args: bound })
    const fast = await net.start(3, 'fast', {
      peers: [net.addr(1), net.addr(2)],
      args: bound,
      prefix: ['ip', 'netns', 'exec', net.namespace(3), ...fakeTime('+10s')]
    })
    await waitFor(async () => (await fast.status()).clock.warning?.match(/ahead of its peers/) != null, 'the fast node to see that its clock is ahead')
    const written = Date.now()
    await fast.put('setting', 'from the fast clock')
    const held = await waitFor(async () => (await a.status()).counters.held > 0, 'a to hold the far-future op')
    assert.equal(held, true)
    assert.equal((await a.ctl(['get', 'setting'])).code, 4, 'a far-future op is not applied while it is beyond the bound')
    await waitFor(async () => (await a.ctl(['get', 'setting'])).stdout === 'from the fast clock\n', 'a to apply the op once its clock catches up', 20_000)
    const heldMs = Date.now() - written
    await waitFor(async () => (await b.ctl(['get', 'setting'])).stdout === 'from the fast clock\n', 'b to apply it too', 20_000)
    // a write made after seeing the fast node's op wins, although the fast clock is still ahead
    await b.put('setting', 'from b, later')
    const { rows } = await converge([a, b, fast])
    assert.equal(Buffer.from(rows.find(r => r.key === 'setting')?.value ?? []).toString(), 'from b, later')
    console.log(`# clock skew: +10 s clock, 3 s bound: op held ${heldMs} ms, then applied; a later write from a correct clock won`)
  })
})
