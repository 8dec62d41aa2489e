/**
 * Pullers that read slowly, on real murmurd. A puller on a slow link takes
 * frame after frame, however long a 1 MiB frame takes it: the serve asks
 * only that it take 64 KiB in any 20 s (take-floor.ts, whose rule
 * take-floor.spec checks on a test clock; a puller that takes nothing is
 * ended after 20 s, paused-pulls.spec). A serve once required each frame
 * taken within 20 s, ~54 KiB/s, so a node on a slower link failed every
 * pull of more than a frame and never caught up. A member cannot hold a
 * stream by sending its hello a byte every few seconds: the hello must come
 * whole within 20 s (the serve cap counts serves, which begin after it, so a
 * dripping hello held a stream and up to a frame's bytes beside it).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { SYNC_PROTOCOL, decodeFrame, encodeFrame } from '@murmur/core'
import { MurmurClient } from '@murmur/protocol'
import { Attacker, prefixed } from './attacker.js'
import { TestCluster, logged, waitFor, type TestNode } from './harness.js'

/** 3 values of 1000 KiB: a frame each (frames hold at most 1 MiB of ops). */
const VALUES = 3
const VALUE_BYTES = 1000 * 1024
/** yamux's first window, and the most mallory's streams grant: what alice may send after each grant. */
const WINDOW = 256 * 1024

interface SlowPull { ended: 'done' | 'reset' | 'open', values: number, ms: number }

/**
 * A whole-store pull from `node` that takes `WINDOW` bytes every `everyMs`:
 * the stream stays paused (yamux grants no window while it is) and, every
 * `everyMs`, is resumed, which grants back what arrived, and paused again.
 * Resolves once alice ends it (`done` after her last frame, `reset` if she
 * broke it off), or `waitMs` has passed or `enough` values came (`open`).
 */
async function slowPull (mallory: Attacker, node: TestNode, everyMs: number, waitMs: number, enough = Infinity): Promise<SlowPull> {
  const stream = await mallory.node.dialProtocol(multiaddr(await node.addr()), SYNC_PROTOCOL)
  const lp = lpStream(stream, { maxDataLength: 2 * VALUE_BYTES })
  await lp.write(encodeFrame({ kind: 'control', message: { t: 'hello', group: 'default', name: 'mallory', now: Date.now(), vector: {} } }))
  stream.pause()
  const began = Date.now()
  const grantWindow = (): void => {
    stream.resume()
    // what it held may have been the last of alice's stream, which closes its readable end
    if (stream.readStatus === 'readable') stream.pause()
  }
  const grant = setInterval(() => { if (stream.readStatus === 'paused') grantWindow() }, everyMs)
  const signal = AbortSignal.timeout(waitMs)
  let values = 0
  try {
    for (;;) {
      const frame = decodeFrame((await lp.read({ signal })).subarray())
      if (frame.kind === 'ops') values += frame.ops.filter(op => op.key.startsWith('big:')).length
      if (frame.kind === 'control' && frame.message.t === 'done') return { ended: 'done', values, ms: Date.now() - began }
      if (values >= enough) return { ended: 'open', values, ms: Date.now() - began }
    }
  } catch (err) {
    if (signal.aborted) return { ended: 'open', values, ms: Date.now() - began }
    if (stream.status === 'reset' || stream.status === 'aborted') return { ended: 'reset', values, ms: Date.now() - began }
    throw err
  } finally {
    clearInterval(grant)
    stream.abort(new Error('mallory is done'))
  }
}

// the three wait on alice's timers, not on the CPU: run side by side (each its own peer; alice serves them all)
describe('a puller that reads a trickle', { concurrency: true }, () => {
  const cluster = new TestCluster()
  const attackers: Attacker[] = []
  let alice: TestNode
  before(async () => {
    alice = await cluster.start('alice')
    const client = await MurmurClient.connect(alice.socket)
    try {
      for (let i = 0; i < VALUES; i++) await client.call('kv_put', { key: `big:${i}`, value: Buffer.alloc(VALUE_BYTES, 97 + i).toString('base64'), encoding: 'base64' })
    } finally {
      client.close()
    }
  })
  after(async () => {
    for (const attacker of attackers) await attacker.stop()
    await cluster.close()
  })
  const start = async (): Promise<Attacker> => {
    const attacker = await Attacker.start('default', undefined, { window: WINDOW })
    attackers.push(attacker)
    return attacker
  }

  it('serves a puller on a slow link (32 KiB/s) frame after frame, though a frame takes it over 20 s', async () => {
    // 256 KiB every 8 s: a 1000 KiB frame is taken in about 24 s, past the 20 s a frame once had (the test stops at the first)
    const pull = await slowPull(await start(), alice, 8_000, 40_000, 1)
    console.log(`# a pull read 256 KiB every 8 s: ${pull.ended} after ${(pull.ms / 1000).toFixed(0)} s, ${pull.values} of ${VALUES} values taken`)
    assert.notEqual(pull.ended, 'reset', `alice ended the slow pull after ${(pull.ms / 1000).toFixed(0)} s`)
    assert.ok(pull.values >= 1, `${pull.values} values taken in ${(pull.ms / 1000).toFixed(0)} s`)
  })

  it('has a serve whose hello comes a byte every few seconds ended once it has taken 20 s', async () => {
    // 1,000,000 bytes named and 900,000 sent at once, then a byte every 5 s: never 20 s without one, and alice holds the 900,000
    const mallory = await start()
    const stream = await mallory.node.dialProtocol(multiaddr(await alice.addr()), SYNC_PROTOCOL)
    const began = Date.now()
    stream.send(prefixed(new Uint8Array(900_000), 1_000_000))
    const drip = setInterval(() => { if (stream.writeStatus === 'writable') stream.send(new Uint8Array(1)) }, 5_000)
    try {
      await waitFor(() => stream.status !== 'open', 'alice to end the stream whose hello drips', 75_000, 200).catch(() => {})
    } finally {
      clearInterval(drip)
      stream.abort(new Error('mallory is done'))
    }
    const ms = Date.now() - began
    console.log(`# a hello that dripped a byte every 5 s after 900,000: ${stream.status} after ${(ms / 1000).toFixed(0)} s`)
    assert.ok(ms < 60_000, `alice still read the dripping hello after ${(ms / 1000).toFixed(0)} s`)
    await logged(alice, /sync serve failed[^\n]*not sent a whole frame|not sent a whole frame[^\n]*sync serve failed/, 'alice to say why she ended it')
  })

  it('still serves a puller on an honest slow link (100 KiB/s) the whole store', async () => {
    // 256 KiB every 2.5 s: a 1000 KiB frame is taken in about 10 s
    const pull = await slowPull(await start(), alice, 2_500, 120_000)
    console.log(`# a pull read at 100 KiB/s: ${pull.ended} after ${(pull.ms / 1000).toFixed(0)} s, ${pull.values} of ${VALUES} values taken`)
    assert.deepEqual({ ended: pull.ended, values: pull.values }, { ended: 'done', values: VALUES })
  })
})
