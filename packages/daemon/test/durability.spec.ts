/**
 * "Acknowledged = durable": with the default durability every put's answer
 * follows an fsync of the SQLite WAL. kill -9 cannot show this (the page
 * cache survives a process crash), so the daemon runs under strace, which
 * records on one clock each put read from the socket, each WAL fsync and each
 * answer written back: every answer must follow an fsync made after its
 * request was read. With --durability normal strace slows every fsync to
 * 300 ms instead: a put that waited for one could not be answered in less.
 * strace also makes fsyncs of the WAL fail (EIO), to check what a failed one
 * leaves behind.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { MurmurClient } from '@murmur/protocol'
import { MURMURD, TestCluster, waitFor } from './harness.js'
import { startWatch } from './watch-client.js'

const strace = spawnSync('strace', ['-V']).status === 0
const skip = strace ? false : 'strace is not installed (apt-get install -y strace)'

/** A put as the daemon saw it, in strace's clock: its request read from the socket, its answer written. */
interface Window { sent: number, answered: number }

interface Traced {
  /** Each put's window, from the daemon's own reads and writes. */
  puts: Window[]
  /** Each put's round trip measured by its client, in ms. */
  roundTrips: number[]
  /** strace's output, one string per thread (strace -ff). */
  threads: string[]
}

/** Runs murmurd under strace, makes `puts` sequential puts on each of `clients` connections at once, and returns what strace saw. */
async function tracePuts (cluster: TestCluster, name: string, args: string[], puts: number, clients = 1, straceArgs: string[] = []): Promise<Traced> {
  const node = cluster.node(name)
  const trace = `${name}.strace`
  // -ff: one file per thread, so no call is split by another thread's; -yy names the socket and the file of each fd
  const tracer = spawn('strace', ['-ff', '-yy', '-ttt', '-T', '-s', '120', '-e', 'trace=fsync,fdatasync,read,write,writev', ...straceArgs, '-o', join(cluster.dir, trace),
    process.execPath, MURMURD, '--name', name, '--data-dir', node.dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht', '--log-level', 'warn', ...args], { stdio: 'ignore' })
  const exited = new Promise(resolve => tracer.on('exit', resolve))
  const roundTrips: number[] = []
  try {
    const first = await waitFor(async () => await MurmurClient.connect(node.socket), `${name} to listen`, 30_000, 100)
    const connections = [first, ...await Promise.all(Array.from({ length: clients - 1 }, async () => await MurmurClient.connect(node.socket)))]
    await Promise.all(connections.map(async (client, c) => {
      for (let i = 0; i < puts; i++) {
        const sent = performance.now()
        await client.call('kv_put', { key: `durable:${c}:${i}`, value: `value ${i}` })
        roundTrips.push(performance.now() - sent)
      }
      client.close()
    }))
  } finally {
    const pid = Number(readFileSync(join(node.dataDir, 'murmurd.pid'), 'utf8'))
    process.kill(pid, 'SIGTERM')
    await exited
  }
  const threads = readdirSync(cluster.dir).filter(f => f.startsWith(`${trace}.`)).map(f => readFileSync(join(cluster.dir, f), 'utf8'))
  return { puts: putWindows(threads), roundTrips, threads }
}

/** Each kv_put read from the daemon's socket, paired with the answer carrying its JSON-RPC id on the same connection. */
function putWindows (threads: string[]): Window[] {
  const requests = new Map<string, number>()
  const windows: Window[] = []
  for (const line of threads.flatMap(t => t.split('\n'))) {
    const call = /^([\d.]+) (read|write|writev)\(\d+<UNIX-STREAM:\[(\d+)->\d+,"[^"]*murmurd\.sock"\]>, (.*)$/.exec(line)
    if (call == null) continue
    const [, time, syscall, connection, rest] = call as unknown as [string, string, string, string, string]
    const id = /\\"id\\":(\d+)/.exec(rest)?.[1]
    if (id == null) continue
    const key = `${connection}:${id}`
    if (syscall === 'read' && rest.includes('\\"method\\":\\"kv_put\\"')) requests.set(key, Number(time))
    else if (syscall !== 'read' && requests.has(key)) {
      windows.push({ sent: requests.get(key) as number, answered: Number(time) })
      requests.delete(key)
    }
  }
  return windows
}

interface Fsync { start: number, end: number }

/** Every successful fsync of the WAL, from its start to its return. */
function walFsyncs (threads: string[]): Fsync[] {
  const fsyncs: Fsync[] = []
  for (const line of threads.flatMap(t => t.split('\n'))) {
    const whole = /^([\d.]+) f(?:data)?sync\(\d+<[^>]*murmur\.db-wal>\) = 0 (?:\(DELAYED\) )?<([\d.]+)>/.exec(line)
    if (whole != null) fsyncs.push({ start: Number(whole[1]), end: Number(whole[1]) + Number(whole[2]) })
  }
  return fsyncs
}

/** The puts whose answer came after a WAL fsync that started after the put was read and returned before its answer was written. */
function synced (windows: Window[], fsyncs: Fsync[]): Window[] {
  return windows.filter(w => fsyncs.some(f => f.start >= w.sent && f.end <= w.answered))
}

describe('durability', { skip }, () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('acknowledges each put only after an fsync of the WAL (default: --durability full)', async () => {
    const { puts, threads } = await tracePuts(cluster, 'full', [], 20)
    const fsyncs = walFsyncs(threads)
    const covered = synced(puts, fsyncs)
    console.log(`# ${covered.length}/${puts.length} acknowledgements preceded by a WAL fsync; ${fsyncs.length} WAL fsyncs in all`)
    assert.equal(puts.length, 20, 'every put and its answer found in the trace')
    assert.equal(covered.length, puts.length)
  })

  it('acknowledges concurrent puts, committed together, only after an fsync of the WAL', async () => {
    const { puts, threads } = await tracePuts(cluster, 'group', [], 10, 8)
    const fsyncs = walFsyncs(threads)
    const covered = synced(puts, fsyncs)
    console.log(`# ${covered.length}/${puts.length} concurrent acknowledgements preceded by a WAL fsync; ${fsyncs.length} WAL fsyncs in all`)
    assert.equal(puts.length, 80, 'every put and its answer found in the trace')
    assert.equal(covered.length, puts.length)
    assert.ok(fsyncs.length < puts.length, `${fsyncs.length} fsyncs for ${puts.length} puts: concurrent puts should share them`)
  })

  it('after one failed fsync, no write is acknowledged until a restart, and health says so', async () => {
    // only the third fsync of the WAL fails (the start makes two): Linux may have dropped what it could not write
    const node = cluster.node('eio-once')
    await node.start({ prefix: ['strace', '-f', '-o', join(cluster.dir, 'eio-once.strace'), '-P', join(node.dataDir, 'murmur.db-wal'), '-e', 'trace=fsync,fdatasync', '-e', 'inject=fsync,fdatasync:error=EIO:when=3'] })
    try {
      // the failed fsync is this put's, or one murmurd made before it: either way the put is not acknowledged
      const failed = await node.ctl(['put', 'a', '1'])
      assert.equal(failed.code, 1, failed.stdout)
      assert.match(failed.stderr, /write not known to be on disk: .*EIO/)
      // the next fsync succeeds, but says nothing of the pages the failed one lost
      const after = await node.ctl(['put', 'b', '2'])
      assert.equal(after.code, 1, `a write after the failed fsync was acknowledged: ${after.stdout}`)
      assert.match(after.stderr, /an earlier fsync of the WAL failed \(EIO.*restart murmurd/)
      const health = await node.ctl(['health'])
      assert.equal(health.code, 1, health.stdout)
      assert.match(health.stdout, /UNHEALTHY: .*an fsync of the WAL failed/)
    } finally {
      await node.stop('SIGKILL')
    }
    // restarted (without strace), the node writes again
    await node.start()
    assert.equal((await node.ctl(['put', 'c', '3'])).code, 0)
    await node.stop()
  })

  it('a put whose fsync fails on the event loop holds back no later change from watchers', async () => {
    // every fsync of the WAL from the third on fails, as on a disk that went bad (the start makes two)
    const node = cluster.node('eio')
    await node.start({ prefix: ['strace', '-f', '-o', join(cluster.dir, 'eio.strace'), '-P', join(node.dataDir, 'murmur.db-wal'), '-e', 'trace=fsync,fdatasync', '-e', 'inject=fsync,fdatasync:error=EIO:when=3+'] })
    const watch = startWatch(node)
    try {
      await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watch to be ready')
      // a lone writer's fsync runs on the event loop: committed, then refused
      const refused = await node.ctl(['put', 'a', '1'])
      assert.equal(refused.code, 1, refused.stdout)
      assert.match(refused.stderr, /write not known to be on disk: .*EIO/)
      assert.equal((await node.ctl(['put', 'b', '2', '--ttl', '1s'])).code, 1)
      // its expiry is told as a peer's change is: after every own change numbered before it
      await waitFor(() => watch.events().some(e => e.type === 'expire' && e.key === 'b'), 'the watch to hear b expire', 10_000)
    } finally {
      await watch.stop()
      await node.stop('SIGKILL')
    }
  })

  it('with --durability normal, puts are acknowledged without waiting for an fsync', async () => {
    // every fsync made to take 300 ms: a put that waited for one could not be answered sooner (a background fsync
    // that happens to fall inside the next put's round trip, as it may on a loaded machine, does not make it wait)
    const { puts, roundTrips, threads } = await tracePuts(cluster, 'normal', ['--durability', 'normal'], 20, 1, ['-e', 'inject=fsync,fdatasync:delay_exit=300000'])
    const fsyncs = walFsyncs(threads)
    const covered = synced(puts, fsyncs)
    const answered = roundTrips.sort((a, b) => a - b)
    const median = answered[Math.floor(answered.length / 2)] as number
    console.log(`# ${covered.length}/${puts.length} acknowledgements with a WAL fsync inside their round trip with durability normal; median round trip ${median.toFixed(1)} ms, ${fsyncs.length} WAL fsyncs of 300 ms`)
    // strace marks each slowed call (the delay comes after the call returns, so -T does not count it)
    const delayed = threads.flatMap(t => t.split('\n')).filter(line => /sync.*\(DELAYED\)/.test(line)).length
    assert.ok(fsyncs.length > 0 && delayed >= fsyncs.length, `the WAL fsyncs were slowed down (${delayed} of ${fsyncs.length} marked)`)
    assert.ok(median < 150, `puts took ${median.toFixed(0)} ms (median): they waited for the 300 ms fsyncs`)
  })
})
