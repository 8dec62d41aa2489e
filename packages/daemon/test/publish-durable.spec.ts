/**
 * A node's own ops leave it only once they are on disk (README, Guarantees 1
 * and Security: "ops never served before they are durable"): a peer that
 * learned a seq this node could lose to a power cut would see it issued
 * again, as a second op, after the restart. kill -9 cannot show this (the
 * page cache survives a process), so strace is attached to alice once she
 * runs, and makes every fsync of her WAL from then on return a few seconds
 * late (every one: strace counts `when=` per thread, and the thread pool's
 * are several). A write committed at t0 cannot be on disk before those
 * seconds have passed, so
 * no peer may hold it before then, by gossip (bob, connected and meshed) or
 * by a pull. With the default durability the writes are eight puts sent at
 * once on one connection, read together and committed together: a group
 * commit, whose fsync runs on the thread pool while alice's event loop goes
 * on (a lone write's fsync holds the event loop, so nothing could go out
 * meanwhile, whatever the code did, and the test checks that they were
 * answered together). With `--durability normal` each put is answered
 * before its fsync, which runs in the background while alice serves: carol,
 * started right after the writes, pulls alice's store as she connects.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { TestCluster, waitFor, type TestNode } from './harness.js'
import { RawClient } from './raw-client.js'

const strace = spawnSync('strace', ['-V']).status === 0
const skip = strace ? false : 'strace is not installed (apt-get install -y strace)'

const WRITES = 8

/** What one node held under the test's prefix, polled: when each answer came back, and how many keys it named. */
interface Sample { at: number, held: number }

/** Polls `node` for keys under `prefix` every 50 ms until a sample holds all `WRITES` (or 30 s have passed); resolves to the samples, in order. */
async function poll (node: TestNode, prefix: string): Promise<Sample[]> {
  const samples: Sample[] = []
  const deadline = performance.now() + 30_000
  while (samples.at(-1)?.held !== WRITES && performance.now() < deadline) {
    try {
      const held = (await node.entries(prefix)).length
      samples.push({ at: performance.now(), held })
    } catch {} // a node still starting (carol) does not answer yet
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return samples
}

/**
 * alice and bob, bob connected to her and in her gossip mesh (a first write of hers reached him by gossip); then
 * strace attached to alice, every fsync of her WAL from then on returning `delayMs` late (so her start is not slowed).
 */
async function start (cluster: TestCluster, args: string[], delayMs: number): Promise<{ alice: TestNode, bob: TestNode, tracer: ChildProcess }> {
  const alice = await cluster.start('alice', { args })
  const bob = await cluster.start('bob', { peers: [await alice.addr()] })
  await waitFor(async () => (await alice.rpc('p2p_peers', {})).some(p => p.mesh === true), 'bob to be in alice\'s gossip mesh', 30_000)
  await alice.put('warm', '1')
  await waitFor(async () => await bob.value('warm') !== undefined, 'the first write to reach bob', 30_000)
  // -f: every thread of hers, those of the thread pool made later included
  const tracer = spawn('strace', ['-f', '-p', String(alice.process?.pid), '-o', join(cluster.dir, 'alice.strace'), '-P', join(alice.dataDir, 'murmur.db-wal'),
    '-e', 'trace=fsync,fdatasync', '-e', `inject=fsync,fdatasync:delay_exit=${delayMs * 1000}`], { stdio: ['ignore', 'ignore', 'pipe'] })
  let said = ''
  tracer.stderr?.on('data', (chunk: Buffer) => { said += chunk.toString() })
  await waitFor(() => /attached/.test(said) || tracer.exitCode !== null, 'strace to attach to alice', 10_000)
  assert.equal(tracer.exitCode, null, `strace could not attach: ${said}`)
  return { alice, bob, tracer }
}

/**
 * Writes `WRITES` keys under `prefix` on alice, all sent at once
 * (`together`) or one after another, while bob (and carol, once started) are polled; returns when each
 * answer came, t0 and the samples.
 */
async function writeAndWatch (cluster: TestCluster, alice: TestNode, bob: TestNode, prefix: string, together: boolean, withCarol: boolean): Promise<{ t0: number, answered: number[], bob: Sample[], carol?: Sample[], carolPulled?: number }> {
  const bobSamples = poll(bob, prefix)
  const client = await RawClient.connect(alice.socket)
  const answered: number[] = []
  const request = (i: number): string => JSON.stringify({ jsonrpc: '2.0', id: i, method: 'kv_put', params: { key: `${prefix}${i}`, value: `value ${i}` } }) + '\n'
  const answer = async (i: number): Promise<void> => {
    const reply = await client.next(m => m.id === i, 60_000)
    assert.equal(reply.error, undefined, JSON.stringify(reply.error))
    answered.push(performance.now())
  }
  const keys = Array.from({ length: WRITES }, (_, i) => i)
  const t0 = performance.now()
  // together: every request in one write, so alice reads them in one chunk and commits them as one batch
  if (together) client.write(keys.map(request).join(''))
  const writes = together
    ? Promise.all(keys.map(answer))
    : (async () => { for (const i of keys) { client.write(request(i)); await answer(i) } })()
  let carol: { samples: Sample[], pulled: number } | undefined
  if (withCarol) {
    // carol joins now: her first pull from alice asks for everything alice holds
    const node = cluster.node('carol')
    const carolSamples = poll(node, prefix)
    await node.start({ peers: [await alice.addr()] })
    const aliceId = (await alice.status()).id
    const pulled = await waitFor(async () => (await node.status()).peerSync.some((p: { id: string, lastSync?: string }) => p.id === aliceId && p.lastSync !== undefined) ? performance.now() : undefined, 'carol to complete a pull from alice', 30_000, 20)
    carol = { samples: await carolSamples, pulled }
  }
  await writes
  client.destroy()
  return { t0, answered, bob: await bobSamples, ...(carol !== undefined ? { carol: carol.samples, carolPulled: carol.pulled } : {}) }
}

/** The first sample that held a key, as ms after t0; fails unless the node came to hold every write. */
function firstHeld (samples: Sample[], t0: number, name: string): number {
  assert.equal(samples.at(-1)?.held, WRITES, `${name} came to hold ${samples.at(-1)?.held ?? 0} of the ${WRITES} writes in 30 s`)
  return (samples.find(s => s.held > 0) as Sample).at - t0
}

describe('own ops leave a node only once they are on disk', { skip }, () => {
  let cluster: TestCluster | undefined
  after(async () => { await cluster?.close() })

  for (const { mode, args, together, delayMs } of [
    { mode: 'full (default): eight puts sent at once, committed together; no peer holds them before their fsync returned', args: [], together: true, delayMs: 3_000 },
    { mode: 'normal: puts answered before their fsync; no peer holds them before it returned, by gossip or by a pull', args: ['--durability', 'normal'], together: false, delayMs: 5_000 }
  ]) {
    it(`--durability ${mode}`, async () => {
      await cluster?.close()
      cluster = new TestCluster()
      const { alice, bob, tracer } = await start(cluster, args, delayMs)
      let seen: Awaited<ReturnType<typeof writeAndWatch>>
      try {
        seen = await writeAndWatch(cluster, alice, bob, 'durable:', together, !together)
      } finally {
        tracer.kill('SIGINT') // detaches
        await new Promise(resolve => { if (tracer.exitCode !== null) resolve(null); else tracer.once('exit', resolve) })
      }
      const onDisk = delayMs - 300 // the fsync began after t0, and returned delayMs after it began (less a margin for timers)
      const answers = seen.answered.map(at => Math.round(at - seen.t0))
      const bobFirst = firstHeld(seen.bob, seen.t0, 'bob')
      const carolFirst = seen.carol === undefined ? undefined : firstHeld(seen.carol, seen.t0, 'carol')
      const carolPulled = seen.carolPulled === undefined ? undefined : seen.carolPulled - seen.t0
      console.log(`# answers at ${answers.join(', ')} ms; bob first held a write at ${bobFirst.toFixed(0)} ms${carolPulled !== undefined ? `, carol at ${carolFirst?.toFixed(0)} ms (her first pull from alice done at ${carolPulled.toFixed(0)} ms)` : ''}; fsyncs return ${delayMs} ms late`)
      if (together) {
        assert.ok(Math.min(...answers) >= onDisk, `a put was answered at ${Math.min(...answers)} ms, before the fsync that makes it durable could return`)
        // one commit, one fsync on the pool: a lone write's fsync holds the event loop, and could hide a publish made too soon
        assert.ok(Math.max(...answers) - Math.min(...answers) < delayMs / 2, `the puts were answered at ${answers.join(', ')} ms: not committed together`)
      }
      else assert.ok(Math.max(...answers) < delayMs, `puts with --durability normal should be answered before their fsync: ${answers.join(', ')} ms`)
      assert.ok(bobFirst >= onDisk, `bob held a write ${bobFirst.toFixed(0)} ms after it was made, before its fsync could return (${delayMs} ms)`)
      if (carolPulled === undefined) return
      // the pull counts only if it ran while the writes were not on disk yet
      assert.ok(carolPulled < onDisk, `carol's first pull ended ${carolPulled.toFixed(0)} ms after the writes, too late to show anything (the machine is too slow for this test's ${delayMs} ms)`)
      assert.ok(carolFirst !== undefined && carolFirst >= onDisk, `carol held a write ${carolFirst?.toFixed(0)} ms after it was made, before its fsync could return (${delayMs} ms)`)
    })
  }
})
