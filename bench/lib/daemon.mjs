/**
 * murmurd processes for the bench: always on 127.0.0.1 with a random port,
 * mDNS and DHT off, data under a temporary directory. Every process and
 * directory is registered so `cleanup()` (and the exit hooks in
 * `installCleanup`) can remove them whatever happens.
 */
import { spawn, execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { RpcClient } from './rpc.mjs'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** BENCH_MURMURD runs another build's bin (a copy of an earlier bundle, say) for a before/after in one session. */
export const MURMURD = process.env.BENCH_MURMURD ?? join(ROOT, 'packages/daemon/bin/murmurd.js')
export const LISTEN = '/ip4/127.0.0.1/tcp/0'
const CLK_TCK = 100 // Linux USER_HZ: /proc/<pid>/stat times are in 1/100 s

const live = new Set() // Daemon
const recent = new Set() // Daemon started since the last forgetDaemons(), for failure reports
const dirs = new Set() // string
/** Extra node flags for every daemon (e.g. --cpu-prof), set by the runner. */
export const daemonNodeArgs = []

/** A fresh temporary directory under os.tmpdir(), removed by cleanup(). */
export function tempDir (prefix = 'murmur-bench-') {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.add(dir)
  return dir
}

export function removeDir (dir) {
  rmSync(dir, { recursive: true, force: true })
  dirs.delete(dir)
}

/** The environment without MURMUR_* variables, so nothing of the caller's leaks into a daemon's config. */
function cleanEnv () {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MURMUR_')))
}

/** CPU time (user + system) process `pid` has used so far, in ms. */
export function cpuMsOf (pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // fields from #3 (state) on
  return (Number(fields[11]) + Number(fields[12])) * 1000 / CLK_TCK // #14 utime, #15 stime
}

/** Resident set size (VmRSS) of process `pid`, in bytes. */
export function rssOf (pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024
}

export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** A port free now on 127.0.0.1 (the kernel's pick, released at once), for a process that must listen on a fixed one. */
export async function freePort () {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => { resolve(port) })
    })
  })
}

export class Daemon {
  constructor (name, dataDir, { peers = [], args = [] } = {}) {
    this.name = name
    this.dataDir = dataDir
    this.socket = join(dataDir, 'murmurd.sock')
    this.peers = peers
    this.args = args
    this.child = undefined
    this.ctl = undefined
    this.stderrTail = ''
  }

  get pid () { return this.child?.pid }
  get running () { return this.child != null && this.child.exitCode == null && this.child.signalCode == null }

  /**
   * Spawns murmurd and resolves once its socket answers node_status.
   * Sets `startedAt` (spawn time), `readyMs`, `id`, `addr`, and `ctl` (an open client).
   */
  async start ({ timeoutMs = 60_000, pollMs = 10 } = {}) {
    const args = ['--name', this.name, '--data-dir', this.dataDir, '--listen', LISTEN, '--no-mdns', '--no-dht', '--log-level', process.env.BENCH_DAEMON_LOG_LEVEL ?? 'warn',
      ...this.peers.flatMap(p => ['--peer', p]), ...this.args]
    this.startedAt = performance.now()
    const child = spawn(process.execPath, [...daemonNodeArgs, MURMURD, ...args], { cwd: dirname(this.dataDir), env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
    this.child = child
    child.on('error', err => { this.stderrTail += `\nspawn failed: ${err.message}` })
    live.add(this)
    recent.add(this)
    this.exited = new Promise(resolve => child.once('exit', () => { live.delete(this); resolve() }))
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', d => { this.stderrTail = (this.stderrTail + d).slice(-20_000) })
    const deadline = this.startedAt + timeoutMs
    while (true) {
      if (!this.running) throw new Error(`murmurd ${this.name} exited (${child.exitCode ?? child.signalCode}): ${this.stderrTail.slice(-1500)}`)
      if (performance.now() > deadline) throw new Error(`murmurd ${this.name} not ready after ${timeoutMs} ms`)
      try {
        const ctl = await RpcClient.connect(this.socket, { timeoutMs: 1_000 })
        try {
          const status = await ctl.call('node_status')
          this.readyMs = performance.now() - this.startedAt
          this.ctl = ctl
          this.id = status.id
          this.addr = status.addrs[0]
          return status
        } catch (err) {
          ctl.close()
          throw err
        }
      } catch {
        await sleep(pollMs)
      }
    }
  }

  async status () { return await this.ctl.call('node_status') }

  /** Opens another client on this daemon's socket. */
  async client () { return await RpcClient.connect(this.socket) }

  /** Resident set size in bytes (VmRSS). */
  rss () {
    return rssOf(this.pid)
  }

  /** CPU time (user + system) used so far, in ms. */
  cpuMs () {
    return cpuMsOf(this.pid)
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop ({ graceMs = 10_000 } = {}) {
    this.ctl?.close()
    this.ctl = undefined
    if (!this.running) return
    this.child.kill('SIGTERM')
    const killed = await Promise.race([this.exited.then(() => false), sleep(graceMs).then(() => true)])
    if (killed && this.running) {
      this.child.kill('SIGKILL')
      await this.exited
    }
  }
}

/** What the daemons still running last wrote to stderr (warnings and errors), for a failure report. */
export function daemonLogs () {
  return [...recent].map(d => `--- ${d.name} (pid ${d.pid})\n${d.stderrTail}`).join('\n')
}

export function forgetDaemons () {
  recent.clear()
}

/** Stops every daemon still running and removes every temporary directory. */
export async function cleanup () {
  await Promise.all([...live].map(async d => await d.stop({ graceMs: 5_000 })))
  for (const dir of dirs) removeDir(dir)
}

/** Synchronous last resort (process 'exit'): SIGKILL what is left, remove directories. */
function cleanupSync () {
  for (const d of live) { try { d.child.kill('SIGKILL') } catch {} }
  for (const dir of dirs) { try { rmSync(dir, { recursive: true, force: true }) } catch {} }
}

/** Cleans up on normal exit, errors, SIGINT and SIGTERM. */
export function installCleanup (log = console.error) {
  process.on('exit', cleanupSync)
  let stopping = false
  const onSignal = signal => {
    if (stopping) process.exit(130)
    stopping = true
    log(`\nbench: ${signal}: stopping ${live.size} daemon(s) and removing temporary directories`)
    cleanup().finally(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const onError = err => {
    if (stopping) return // loops still running when a signal stopped the daemons fail; that is expected
    stopping = true
    log(`bench: ${err?.stack ?? err}`)
    cleanup().finally(() => process.exit(1))
  }
  process.on('uncaughtException', onError)
  process.on('unhandledRejection', onError)
}

/**
 * TCP payload bytes of every established connection of the given pids, as the
 * kernel counts them (tcp_info: bytes_received, bytes_acked), read with `ss`.
 * Returns Map<pid, Map<"local>peer", {in, out}>>.
 */
export async function tcpBytes (pids) {
  const out = await new Promise((resolve, reject) => {
    execFile('ss', ['-tinpH', 'state', 'established'], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => err ? reject(err) : resolve(stdout))
  })
  const wanted = new Set(pids)
  const result = new Map(pids.map(p => [p, new Map()]))
  const lines = out.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^\S+\s+\S+\s+(\S+)\s+(\S+)\s+users:\(\("[^"]*",pid=(\d+)/.exec(lines[i])
    if (m == null || !wanted.has(Number(m[3]))) continue
    const info = lines[i + 1] ?? ''
    const rx = /bytes_received:(\d+)/.exec(info)
    const tx = /bytes_acked:(\d+)/.exec(info)
    result.get(Number(m[3])).set(`${m[1]}>${m[2]}`, { in: Number(rx?.[1] ?? 0), out: Math.max(0, Number(tx?.[1] ?? 1) - 1) })
  }
  return result
}

/**
 * Samples tcpBytes for one pid every `intervalMs`, keeping the highest count
 * seen per connection, so a connection that closes before the end still counts.
 */
export class TcpMeter {
  constructor (pid, intervalMs = 200) {
    this.pid = pid
    this.conns = new Map()
    this.timer = setInterval(() => { this.sample().catch(() => {}) }, intervalMs)
  }

  async sample () {
    const now = (await tcpBytes([this.pid])).get(this.pid)
    for (const [conn, bytes] of now) {
      const seen = this.conns.get(conn) ?? { in: 0, out: 0 }
      this.conns.set(conn, { in: Math.max(seen.in, bytes.in), out: Math.max(seen.out, bytes.out) })
    }
  }

  /** Stops sampling after one last sample; returns totals and per-connection counts. */
  async finish () {
    clearInterval(this.timer)
    await this.sample().catch(() => {})
    let inBytes = 0; let outBytes = 0
    for (const c of this.conns.values()) { inBytes += c.in; outBytes += c.out }
    return { in: inBytes, out: outBytes, connections: [...this.conns].map(([conn, b]) => ({ conn, ...b })) }
  }
}
