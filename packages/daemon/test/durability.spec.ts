/**
 * "Acknowledged = durable": with the default durability every put's answer
 * follows an fsync of the SQLite WAL. kill -9 cannot show this (the page
 * cache survives a process crash), so the daemon runs under strace and each
 * reply is matched against the fsyncs made while it was in flight.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { MurmurClient } from '@murmur/protocol'
import { MURMURD, TestCluster, waitFor } from './harness.js'

const strace = spawnSync('strace', ['-V']).status === 0
const skip = strace ? false : 'strace is not installed (apt-get install -y strace)'
const nowSeconds = (): number => (performance.timeOrigin + performance.now()) / 1000

interface Window { sent: number, answered: number }

/** Runs murmurd under strace, makes `puts` sequential puts, and returns the time window of each. */
async function tracePuts (cluster: TestCluster, name: string, args: string[], puts: number): Promise<Window[]> {
  const node = cluster.node(name)
  const trace = join(cluster.dir, `${name}.strace`)
  const tracer = spawn('strace', ['-f', '-y', '-ttt', '-e', 'trace=fsync,fdatasync', '-o', trace,
    process.execPath, MURMURD, '--name', name, '--data-dir', node.dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht', '--log-level', 'warn', ...args], { stdio: 'ignore' })
  const exited = new Promise(resolve => tracer.on('exit', resolve))
  try {
    const client = await waitFor(async () => await MurmurClient.connect(node.socket), `${name} to listen`, 30_000, 100)
    const windows: Window[] = []
    for (let i = 0; i < puts; i++) {
      const sent = nowSeconds()
      await client.call('kv_put', { key: `durable:${i}`, value: `value ${i}` })
      windows.push({ sent, answered: nowSeconds() })
    }
    client.close()
    return windows
  } finally {
    const pid = Number(readFileSync(join(node.dataDir, 'murmurd.pid'), 'utf8'))
    process.kill(pid, 'SIGTERM')
    await exited
  }
}

function walFsyncs (traceFile: string): number[] {
  return readFileSync(traceFile, 'utf8').split('\n')
    .filter(line => /f(data)?sync\(\d+<[^>]*murmur\.db-wal>\) = 0/.test(line))
    .map(line => Number(line.split(/\s+/)[1]))
}

describe('durability', { skip }, () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('acknowledges each put only after an fsync of the WAL (default: --durability full)', async () => {
    const windows = await tracePuts(cluster, 'full', [], 20)
    const fsyncs = walFsyncs(join(cluster.dir, 'full.strace'))
    const covered = windows.filter(w => fsyncs.some(t => t >= w.sent && t <= w.answered))
    console.log(`# ${covered.length}/${windows.length} acknowledgements preceded by a WAL fsync; ${fsyncs.length} WAL fsyncs in all`)
    assert.equal(covered.length, windows.length)
  })

  it('with --durability normal, puts are acknowledged without waiting for an fsync', async () => {
    const windows = await tracePuts(cluster, 'normal', ['--durability', 'normal'], 20)
    const fsyncs = walFsyncs(join(cluster.dir, 'normal.strace'))
    const covered = windows.filter(w => fsyncs.some(t => t >= w.sent && t <= w.answered))
    console.log(`# ${covered.length}/${windows.length} acknowledgements preceded by a WAL fsync with durability normal`)
    assert.ok(covered.length < windows.length / 2, `${covered.length} of ${windows.length} puts still waited for an fsync`)
  })
})
