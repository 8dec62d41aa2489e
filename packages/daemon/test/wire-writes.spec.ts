/**
 * What one replicated put costs in system calls, on real murmurd processes
 * under strace: the writer sends each gossip message to a peer with one
 * write (noise's length and ciphertext together), its peer answers it with
 * no frame of its own (yamux window updates once half the window is used,
 * not after every frame), and the peer's fsyncs of ops it received are
 * coalesced (one per `REMOTE_SYNC_DELAY_MS` at most, not one per op).
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { MurmurClient } from '@murmur/protocol'
import { REMOTE_SYNC_DELAY_MS } from '../src/replication.js'
import { usePair, waitFor, type TestNode } from './harness.js'

const strace = spawnSync('strace', ['-V']).status === 0
const skip = strace ? false : 'strace is not installed (apt-get install -y strace)'
const PUTS = 100

/** Attaches strace to a running murmurd; `stop()` ends it (by its PID) and returns the trace's lines. */
async function attach (node: TestNode, file: string): Promise<{ stop: () => Promise<string[]> }> {
  const pid = node.process?.pid
  assert.ok(pid != null, `${node.name} runs`)
  const tracer = spawn('strace', ['-f', '-yy', '-e', 'trace=read,write,writev,fsync,fdatasync', '-o', file, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  tracer.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise(resolve => tracer.on('exit', resolve))
  await waitFor(() => /attached/.test(stderr), `strace to attach to ${node.name}`, 15_000)
  return {
    stop: async () => {
      tracer.kill('SIGINT')
      await exited
      return readFileSync(file, 'utf8').split('\n')
    }
  }
}

const tcpCalls = (lines: string[], calls: RegExp): number => lines.filter(l => calls.test(l) && /<TCP(v6)?:\[/.test(l) && !/= -1 /.test(l)).length

describe('system calls per replicated put', { skip }, () => {
  const pair = usePair()

  it('one write per message to a peer, no frame back, and coalesced fsyncs on the peer', async () => {
    const { alice, bob } = pair
    const writer = await MurmurClient.connect(alice.socket)
    const reader = await MurmurClient.connect(bob.socket)
    try {
      let probe = 0
      await waitFor(async () => {
        const key = `mesh:${probe++}`
        await writer.call('kv_put', { key, value: 'p' })
        return await waitFor(async () => (await reader.call('kv_get', { key })) != null, 'a probe', 1_000).then(() => true, () => false)
      }, 'gossip from alice to reach bob', 30_000)
      const onAlice = await attach(alice, join(pair.cluster.dir, 'alice.strace'))
      const onBob = await attach(bob, join(pair.cluster.dir, 'bob.strace'))
      const started = performance.now()
      for (let i = 0; i < PUTS; i++) await writer.call('kv_put', { key: `wire:${i}`, value: `value ${i}` })
      await waitFor(async () => (await reader.call('kv_get', { key: `wire:${PUTS - 1}` })) != null, 'the last put to reach bob')
      const elapsedMs = performance.now() - started
      const [aliceTrace, bobTrace] = [await onAlice.stop(), await onBob.stop()]

      const sends = tcpCalls(aliceTrace, /^\d+\s+(write|writev)\(/)
      const frames = tcpCalls(aliceTrace, /^\d+\s+read\(/)
      // a few more than one per put: pings, heartbeats, attestations
      assert.ok(sends <= PUTS * 1.3, `alice wrote to bob ${sends} times for ${PUTS} puts (two per put would mean the length and the ciphertext go apart)`)
      assert.ok(frames <= PUTS * 0.3, `alice read ${frames} times from bob for ${PUTS} puts (one per put would mean a window update for every message)`)
      const fsyncs = bobTrace.filter(l => /f(data)?sync\(\d+<[^>]*murmur\.db-wal>/.test(l) && !/resumed/.test(l)).length
      // one per delay at most, plus bob's own attestations (at most one a second, each fsynced): one per op
      // received, as before, exceeds it whenever the puts come faster than one per delay (here, ~100/s)
      const bound = Math.ceil(elapsedMs / REMOTE_SYNC_DELAY_MS) + 2 * Math.ceil(elapsedMs / 1_000) + 2
      assert.ok(fsyncs <= bound, `bob fsynced ${fsyncs} times for ${PUTS} puts in ${elapsedMs.toFixed(0)} ms (at most ${bound})`)
    } finally {
      writer.close()
      reader.close()
    }
  })
})
