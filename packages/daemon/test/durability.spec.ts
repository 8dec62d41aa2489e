/**
 * "Acknowledged = durable": with the default durability every put's answer
 * follows an fsync of the SQLite WAL. kill -9 cannot show this (the page
 * cache survives a process crash), so the daemon runs under strace and each
 * reply is matched against the fsyncs made while it was in flight. With
 * --durability normal strace slows every fsync to 300 ms instead: a put that
 * waited for one could not be answered in less.
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

/** Runs murmurd under strace, makes `puts` sequential puts on each of `clients` connections at once, and returns the time window of each. */
async function tracePuts (cluster: TestCluster, name: string, args: string[], puts: number, clients = 1, straceArgs: string[] = []): Promise<Window[]> {
  const node = cluster.node(name)
  const trace = join(cluster.dir, `${name}.strace`)
  const tracer = spawn('strace', ['-f', '-y', '-ttt', '-T', '-e', 'trace=fsync,fdatasync', ...straceArgs, '-o', trace,
    process.execPath, MURMURD, '--name', name, '--data-dir', node.dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht', '--log-level', 'warn', ...args], { stdio: 'ignore' })
  const exited = new Promise(resolve => tracer.on('exit', resolve))
  try {
    const first = await waitFor(async () => await MurmurClient.connect(node.socket), `${name} to listen`, 30_000, 100)
    const connections = [first, ...await Promise.all(Array.from({ length: clients - 1 }, async () => await MurmurClient.connect(node.socket)))]
    const windows: Window[] = []
    await Promise.all(connections.map(async (client, c) => {
      for (let i = 0; i < puts; i++) {
        const sent = nowSeconds()
        await client.call('kv_put', { key: `durable:${c}:${i}`, value: `value ${i}` })
        windows.push({ sent, answered: nowSeconds() })
      }
      client.close()
    }))
    return windows
  } finally {
    const pid = Number(readFileSync(join(node.dataDir, 'murmurd.pid'), 'utf8'))
    process.kill(pid, 'SIGTERM')
    await exited
  }
}

interface Fsync { start: number, end: number }

/**
 * Every successful fsync of the WAL, from its start to its return. A call
 * made on a thread-pool thread may be split in two lines by another thread's
 * output: `fsync(12</…/murmur.db-wal> <unfinished ...>` and later
 * `<... fsync resumed>) = 0 <0.000123>`.
 */
function walFsyncs (traceFile: string): Fsync[] {
  const fsyncs: Fsync[] = []
  const unfinished = new Map<string, number>()
  for (const line of readFileSync(traceFile, 'utf8').split('\n')) {
    const [pid = '', time = ''] = line.split(/\s+/)
    const at = Number(time)
    const whole = /f(?:data)?sync\(\d+<[^>]*murmur\.db-wal>\) = 0 (?:\(DELAYED\) )?<([\d.]+)>/.exec(line)
    if (whole != null) fsyncs.push({ start: at, end: at + Number(whole[1]) })
    else if (/f(?:data)?sync\(\d+<[^>]*murmur\.db-wal> <unfinished/.test(line)) unfinished.set(pid, at)
    else if (/<\.\.\. f(?:data)?sync resumed>\) = 0/.test(line) && unfinished.has(pid)) {
      fsyncs.push({ start: unfinished.get(pid) as number, end: at })
      unfinished.delete(pid)
    }
  }
  return fsyncs
}

/** The puts whose answer came after a WAL fsync that started after the put was sent and returned before its answer. */
function synced (windows: Window[], fsyncs: Fsync[]): Window[] {
  return windows.filter(w => fsyncs.some(f => f.start >= w.sent && f.end <= w.answered))
}

describe('durability', { skip }, () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('acknowledges each put only after an fsync of the WAL (default: --durability full)', async () => {
    const windows = await tracePuts(cluster, 'full', [], 20)
    const fsyncs = walFsyncs(join(cluster.dir, 'full.strace'))
    const covered = synced(windows, fsyncs)
    console.log(`# ${covered.length}/${windows.length} acknowledgements preceded by a WAL fsync; ${fsyncs.length} WAL fsyncs in all`)
    assert.equal(covered.length, windows.length)
  })

  it('acknowledges concurrent puts, committed together, only after an fsync of the WAL', async () => {
    const windows = await tracePuts(cluster, 'group', [], 10, 8)
    const fsyncs = walFsyncs(join(cluster.dir, 'group.strace'))
    const covered = synced(windows, fsyncs)
    console.log(`# ${covered.length}/${windows.length} concurrent acknowledgements preceded by a WAL fsync; ${fsyncs.length} WAL fsyncs in all`)
    assert.equal(covered.length, windows.length)
    assert.ok(fsyncs.length < windows.length, `${fsyncs.length} fsyncs for ${windows.length} puts: concurrent puts should share them`)
  })

  it('with --durability normal, puts are acknowledged without waiting for an fsync', async () => {
    // every fsync made to take 300 ms: a put that waited for one could not be answered sooner (a background fsync
    // that happens to fall inside the next put's round trip, as it may on a loaded machine, does not make it wait)
    const windows = await tracePuts(cluster, 'normal', ['--durability', 'normal'], 20, 1, ['-e', 'inject=fsync,fdatasync:delay_exit=300000'])
    const fsyncs = walFsyncs(join(cluster.dir, 'normal.strace'))
    const covered = synced(windows, fsyncs)
    const answered = windows.map(w => (w.answered - w.sent) * 1000).sort((a, b) => a - b)
    const median = answered[Math.floor(answered.length / 2)] as number
    console.log(`# ${covered.length}/${windows.length} acknowledgements with a WAL fsync inside their round trip with durability normal; median round trip ${median.toFixed(1)} ms, ${fsyncs.length} WAL fsyncs of 300 ms`)
    // strace marks each slowed call (the delay comes after the call returns, so -T does not count it)
    const delayed = readFileSync(join(cluster.dir, 'normal.strace'), 'utf8').split('\n').filter(line => /sync.*\(DELAYED\)/.test(line)).length
    assert.ok(fsyncs.length > 0 && delayed >= fsyncs.length, `the WAL fsyncs were slowed down (${delayed} of ${fsyncs.length} marked)`)
    assert.ok(median < 150, `puts took ${median.toFixed(0)} ms (median): they waited for the 300 ms fsyncs`)
  })
})
