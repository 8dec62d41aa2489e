/**
 * A 3-member etcd cluster on 127.0.0.1 for the comparison section: the
 * `etcd` binary from PATH (Debian's `etcd-server`; the bench installs
 * nothing), free ports, data dirs under a temporary directory, every member
 * stopped by its PID (SIGTERM, then SIGKILL), also on exit. Driven through
 * `etcd3`, a maintained client.
 */
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { cpuMsOf, freePort, sleep } from './daemon.mjs'

/** etcd3 (a devDependency) is loaded by the etcd section alone, so the rest of the bench runs without it. */
let Etcd3

/** The etcd binary's version line, or undefined when there is none on PATH. */
export function etcdVersion () {
  const out = spawnSync('etcd', ['--version'], { encoding: 'utf8' })
  return out.status === 0 ? out.stdout.split('\n')[0] : undefined
}

const running = new Set()
process.on('exit', () => { for (const child of running) { try { child.kill('SIGKILL') } catch {} } })

export class EtcdCluster {
  constructor (root, size = 3) {
    this.root = root
    this.size = size
    this.members = []
    this.clients = []
  }

  async start ({ timeoutMs = 30_000 } = {}) {
    const ports = []
    for (let i = 0; i < this.size * 2; i++) ports.push(await freePort())
    const peerUrl = i => `http://127.0.0.1:${ports[2 * i + 1]}`
    const initial = Array.from({ length: this.size }, (_, i) => `e${i}=${peerUrl(i)}`).join(',')
    for (let i = 0; i < this.size; i++) {
      const client = `http://127.0.0.1:${ports[2 * i]}`
      this.members.push({ url: client, args: ['--name', `e${i}`, '--data-dir', join(this.root, `e${i}`),
        '--listen-client-urls', client, '--advertise-client-urls', client,
        '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
        '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', `bench-${process.pid}`,
        '--logger', 'zap', '--log-level', 'error'] })
      this.spawn(i)
    }
    Etcd3 ??= (await import('etcd3')).Etcd3
    this.clients = this.members.map(m => new Etcd3({ hosts: m.url }))
    const deadline = performance.now() + timeoutMs
    for (const client of this.clients) {
      while (true) {
        try {
          await client.put('bench:ready').value('1')
          break
        } catch (err) {
          const dead = this.members.find(m => m.child.exitCode != null)
          if (dead != null) throw new Error(`etcd exited: ${dead.child.stderrTail}`)
          if (performance.now() > deadline) throw new Error(`etcd not ready after ${timeoutMs} ms: ${err.message}`)
          await sleep(50)
        }
      }
    }
  }

  /** Starts member `i`'s process (again: a restarted member keeps its data dir, and etcd then ignores the initial-cluster flags); resolves at once. */
  spawn (i) {
    const member = this.members[i]
    const child = spawn('etcd', member.args, { stdio: ['ignore', 'ignore', 'pipe'] })
    child.stderrTail = ''
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', d => { child.stderrTail = (child.stderrTail + d).slice(-4_000) })
    child.exited = new Promise(resolve => child.once('exit', resolve))
    running.add(child)
    child.once('exit', () => running.delete(child))
    member.child = child
    member.startedAt = performance.now()
    return child
  }

  /** Makes member `i` the raft leader (etcd's MoveLeader, asked of the current leader), so the member the bench writes to is the one that leads, as murmur's writer is. */
  async lead (i, { timeoutMs = 10_000 } = {}) {
    const deadline = performance.now() + timeoutMs
    while (true) {
      const statuses = await Promise.all(this.clients.slice(0, this.size).map(async c => await c.maintenance.status()))
      const target = statuses[i].header.member_id
      const leader = statuses.findIndex(s => s.header.member_id === s.leader)
      if (statuses[i].leader === target) return
      if (leader >= 0) await this.clients[leader].maintenance.moveLeader({ targetID: target }).catch(() => {})
      if (performance.now() > deadline) throw new Error(`etcd member e${i} did not become the leader in ${timeoutMs} ms`)
      await sleep(100)
    }
  }

  /** Each member as something whose CPU use the bench reads like a daemon's (`cpuMs()`, in ms so far). */
  get processes () {
    return this.members.map(member => ({ cpuMs: () => cpuMsOf(member.child.pid) }))
  }

  /** Stops member `i` (SIGTERM, then SIGKILL after 5 s). */
  async stopMember (i) {
    const { child } = this.members[i]
    if (child.exitCode != null || child.signalCode != null) return
    child.kill('SIGTERM')
    const killed = await Promise.race([child.exited.then(() => false), sleep(5_000).then(() => true)])
    if (killed) {
      child.kill('SIGKILL')
      await child.exited
    }
  }

  /** A new client of member `i` (its own connection). */
  client (i) {
    const client = new Etcd3({ hosts: this.members[i].url })
    this.clients.push(client)
    return client
  }

  async stop () {
    for (const client of this.clients) client.close()
    this.clients = []
    await Promise.all(this.members.map(async (_, i) => { await this.stopMember(i) }))
  }
}
