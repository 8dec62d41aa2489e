/**
 * A test harness that runs real `murmurd` processes on 127.0.0.1 (random
 * ports, mDNS and DHT off, temporary data dirs) and drives them through the
 * real `murmurctl` binary, as a user would. Polls (is it up, has it
 * converged, what is its status) go over the node's socket in-process
 * (`rpc`): a murmurctl process costs ~150 ms of CPU, and a poll every 50 ms
 * kept a core busy spawning them, beside the daemons under test.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import assert from 'node:assert/strict'
import { after, before } from 'node:test'
import Database from 'better-sqlite3'
import { MurmurClient, type Entry, type MethodName, type Params, type Result } from '@murmur/protocol/client'

export const root = fileURLToPath(new URL('../../../../', import.meta.url))
export const MURMURD = join(root, 'packages/daemon/bin/murmurd.js')
export const MURMURCTL = join(root, 'packages/cli/bin/murmurctl.cjs')

/**
 * The murmurds this process started and has not seen exit, each with whether
 * it leads a process group of its own. However the test process ends (the
 * runner ends a file that runs past `--test-timeout`), they end with it: a
 * murmurd left running would load the machine under the files that follow.
 */
const running = new Map<ChildProcess, boolean>()
process.once('exit', () => {
  for (const [child, group] of running) {
    try {
      if (group && child.pid != null) process.kill(-child.pid, 'SIGKILL')
      else child.kill('SIGKILL')
    } catch {}
  }
})
// the runner stops a file it times out with SIGTERM, which by default ends a process without 'exit'
process.once('SIGTERM', () => process.exit(143))

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  /** stdout as bytes, for binary output */
  stdoutBytes: Buffer
  stderr: string
}

/** Runs a command to completion, with an optional stdin and a deadline. */
export async function run (command: string, args: string[], options: { input?: string | Buffer, env?: NodeJS.ProcessEnv, timeoutMs?: number } = {}): Promise<RunResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const stdoutBytes = Buffer.concat(out)
      resolve({ code, signal, stdout: stdoutBytes.toString(), stdoutBytes, stderr: Buffer.concat(err).toString() })
    })
    child.stdin.end(options.input)
  })
}

/**
 * Waits for a murmurd's log (its stderr so far) to match `pattern`: a line
 * comes through a pipe, which the test may read after it has seen, through
 * the socket, what the daemon did right after logging it.
 */
export async function logged (node: { stderr: string }, pattern: RegExp, what: string, timeoutMs = 5_000): Promise<void> {
  await waitFor(() => pattern.test(node.stderr), `the log to say ${what} (${pattern})`, timeoutMs)
}

/** A process's resident set (VmRSS), in bytes. */
export function rssBytes (pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024
}

/** CPU seconds a process has used (user and system), from /proc. */
export function cpuSeconds (pid: number): number {
  // the fields after the command name (which may hold spaces) start at state: utime and stime are the 12th and 13th
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/** A process's resident set, in MiB. */
export function rssMb (pid: number): number {
  return rssBytes(pid) / (1024 * 1024)
}

/** Polls `check` until it returns a value other than undefined/false, or fails after the deadline. */
export async function waitFor<T> (check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      lastError = err
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError != null ? `: ${(lastError as Error).message}` : ''}`)
}

export interface StartOptions {
  peers?: string[]
  group?: string
  args?: string[]
  env?: NodeJS.ProcessEnv
  /** @default '/ip4/127.0.0.1/tcp/0' */
  listen?: string
  /** A command murmurd runs under, e.g. `['ip', 'netns', 'exec', 'ns1']`; it must exec murmurd so signals reach it. */
  prefix?: string[]
  /** Leaves mDNS on (only inside network namespaces, never on the machine's own network). */
  mdns?: boolean
  /** Leaves the DHT on (only inside network namespaces). */
  dht?: boolean
}

export class TestNode {
  readonly name: string
  readonly dataDir: string
  readonly socket: string
  process?: ChildProcess
  /** murmurd runs under a wrapper (e.g. faketime) in a process group of its own. */
  private group = false
  stdout = ''
  stderr = ''
  private exited?: Promise<number | null>

  constructor (name: string, dataDir: string) {
    this.name = name
    this.dataDir = dataDir
    this.socket = join(dataDir, 'murmurd.sock')
  }

  /** Starts murmurd and waits until its socket answers. */
  async start (options: StartOptions = {}): Promise<this> {
    const args = ['--name', this.name, '--data-dir', this.dataDir, '--listen', options.listen ?? '/ip4/127.0.0.1/tcp/0', '--log-level', 'debug']
    if (options.mdns !== true) args.push('--no-mdns')
    if (options.dht !== true) args.push('--no-dht')
    for (const peer of options.peers ?? []) args.push('--peer', peer)
    if (options.group != null) args.push('--group', options.group)
    args.push(...(options.args ?? []))
    const [command, ...prefixArgs] = [...(options.prefix ?? []), process.execPath, MURMURD, ...args] as [string, ...string[]]
    // a prefix such as faketime forks murmurd as its child: give them a process
    // group of their own so stop() reaches murmurd too, not only the wrapper
    const child = spawn(command, prefixArgs, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.prefix != null })
    this.process = child
    this.group = options.prefix != null
    running.set(child, this.group)
    this.stdout = ''
    this.stderr = ''
    child.stdout?.on('data', (d: Buffer) => { this.stdout += d.toString() })
    child.stderr?.on('data', (d: Buffer) => { this.stderr += d.toString() })
    // libfaketime (test/fake-time.ts) keeps a shared-memory file and a semaphore named for the process, removed only by a
    // clean exit: a murmurd the test kills would leave both in /dev/shm on each run
    const faked = options.prefix?.some(arg => arg.startsWith('LD_PRELOAD=') && arg.includes('faketime')) === true
    this.exited = new Promise(resolve => child.on('exit', code => {
      running.delete(child)
      if (faked) for (const name of ['faketime_shm_', 'sem.faketime_sem_']) rmSync(`/dev/shm/${name}${child.pid as number}`, { force: true })
      resolve(code)
    }))
    // a murmurd that exits while starting fails the start at once (with all it wrote), not at the deadline
    const gone = new Promise<never>((resolve, reject) => child.once('close', code => { reject(new Error(`murmurd ${this.name} exited with ${code}: ${this.stderr.slice(-2000)}`)) }))
    gone.catch(() => {})
    // the poll ends as soon as murmurd is gone, so no murmurctl keeps running after a failed start
    const outcome = await Promise.race([gone, waitFor(async () => {
      if (child.exitCode != null || child.signalCode != null) return 'exited'
      return await this.rpc('node_status', {}).then(() => 'ready' as const, () => false)
    }, `murmurd ${this.name} to answer on its socket`)])
    if (outcome === 'exited') await gone // rejects, with all it wrote, once its output is closed
    return this
  }

  /** Runs murmurctl against this node. */
  async ctl (args: string[], input?: string | Buffer): Promise<RunResult> {
    return await run(process.execPath, [MURMURCTL, '--socket', this.socket, ...args], { input })
  }

  /**
   * One JSON-RPC call over the node's socket, from this process (for polls;
   * see the top of this file). A murmurd that takes the connection but never
   * answers fails the call after `timeoutMs`: a poll (`waitFor`) checks its
   * deadline only between calls.
   */
  async rpc<M extends MethodName>(method: M, params: Params<M>, timeoutMs = 60_000): Promise<Result<M>> {
    const client = await MurmurClient.connect(this.socket)
    let timer: NodeJS.Timeout | undefined
    const silent = new Promise<never>((resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`${method} on ${this.name}: no answer within ${timeoutMs} ms`)) }, timeoutMs)
    })
    try {
      return await Promise.race([client.call(method, params), silent])
    } finally {
      clearTimeout(timer)
      client.close()
    }
  }

  /** `key`'s value over `rpc` (undefined when not held), for polls: a text value is the string `murmurctl get` prints. */
  async value (key: string): Promise<unknown> { return (await this.rpc('kv_get', { key }))?.value }

  /** Every entry under `prefix` (default all, murmur's own records excluded), over `rpc`. */
  async entries (prefix?: string): Promise<Entry[]> {
    const items: Entry[] = []
    for (let after: string | undefined; ;) {
      const page = await this.rpc('kv_list', { ...(prefix !== undefined ? { prefix } : {}), ...(after !== undefined ? { after } : {}), limit: 1000 })
      items.push(...page.items)
      if (page.next === undefined) return items
      after = page.next
    }
  }

  /** Runs murmurctl with --json and parses its output; throws on a non-zero exit. */
  async json<T = any>(args: string[]): Promise<T> {
    const result = await this.ctl(['--json', ...args])
    if (result.code !== 0) throw new Error(`murmurctl ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
    return JSON.parse(result.stdout) as T
  }

  async put (key: string, value: string): Promise<void> {
    const result = await this.ctl(['put', key, value])
    if (result.code !== 0) throw new Error(`put ${key} failed (${result.code}): ${result.stderr}`)
  }

  /** The `murmurctl list` output: one `key = value` line per key. */
  async list (): Promise<string> {
    const result = await this.ctl(['list'])
    if (result.code !== 0) throw new Error(`list failed (${result.code}): ${result.stderr}`)
    return result.stdout
  }

  /** `node_status`, over `rpc` (what `murmurctl --json status` prints). */
  async status (): Promise<any> {
    return await this.rpc('node_status', {})
  }

  /** The first listen address, ending in /p2p/<id>. */
  async addr (): Promise<string> {
    return (await this.status()).addrs[0]
  }

  /**
   * Every kv_store row, read straight from the SQLite file (as a user would
   * with sqlite3): the replicated state, members' attestations (keys under
   * U+0000) included.
   */
  rows (): unknown[] {
    const db = new Database(join(this.dataDir, 'murmur.db'), { readonly: true, fileMustExist: true })
    try {
      return db.prepare('SELECT key, value, wall, logical, origin, seq FROM kv_store ORDER BY key').all()
    } finally {
      db.close()
    }
  }

  /** The kv_store rows of user keys (not murmur's own records). */
  userRows (): unknown[] {
    return (this.rows() as Array<{ key: string }>).filter(row => !row.key.startsWith('\u0000'))
  }

  /** Sends a signal and waits for the exit code. */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.process == null || this.process.exitCode != null || this.process.signalCode != null) return this.process?.exitCode ?? null
    if (this.group && this.process.pid != null) process.kill(-this.process.pid, signal)
    else this.process.kill(signal)
    return await this.exited as number | null
  }
}

/** A set of nodes under one temporary directory, removed by `close()`. */
export class TestCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'murmur-test-'))
  readonly nodes = new Map<string, TestNode>()

  node (name: string): TestNode {
    let node = this.nodes.get(name)
    if (node == null) {
      node = new TestNode(name, join(this.dir, name))
      this.nodes.set(name, node)
    }
    return node
  }

  async start (name: string, options?: StartOptions): Promise<TestNode> {
    return await this.node(name).start(options)
  }

  async close (): Promise<void> {
    await Promise.all([...this.nodes.values()].map(async node => await node.stop('SIGKILL')))
    rmSync(this.dir, { recursive: true, force: true })
  }

  /**
   * Waits until every listed node holds the same keys and values, `minKeys`
   * or more (polled over `rpc`), and returns the first node's
   * `murmurctl list` output, checked to be every node's.
   */
  async converged (nodes: TestNode[], minKeys: number, timeoutMs = 10_000): Promise<string> {
    const what = `${nodes.map(n => n.name).join(', ')} to converge on ${minKeys}+ keys`
    return await waitFor(async () => {
      const held = await Promise.all(nodes.map(async node => (await node.entries()).map(e => [e.key, e.type, e.value])))
      const first = JSON.stringify(held[0])
      if (held.some(h => JSON.stringify(h) !== first) || (held[0]?.length ?? 0) < minKeys) return undefined
      const lists = await Promise.all(nodes.map(async node => await node.list()))
      return lists.every(l => l === lists[0]) ? lists[0] : undefined
    }, what, timeoutMs)
  }
}

export interface Pair { cluster: TestCluster, alice: TestNode, bob: TestNode }

/**
 * For a describe block: alice, and bob started with alice as his peer and
 * connected to her, before its tests (the fields are set then); removed after.
 */
export function usePair (): Pair {
  const pair = {} as Pair
  before(async () => {
    pair.cluster = new TestCluster()
    pair.alice = await pair.cluster.start('alice')
    pair.bob = await pair.cluster.start('bob', { peers: [await pair.alice.addr()] })
    await waitFor(async () => (await pair.alice.status()).peers === 1, 'alice and bob to connect')
  })
  after(async () => { await pair.cluster?.close() })
  return pair
}

/** For a describe block: alice alone, started before its tests (the fields are set then); removed after. */
export function useNode (): { cluster: TestCluster, alice: TestNode } {
  const single = {} as { cluster: TestCluster, alice: TestNode }
  before(async () => {
    single.cluster = new TestCluster()
    single.alice = await single.cluster.start('alice')
  })
  after(async () => { await single.cluster?.close() })
  return single
}

/** The version `murmurctl get --meta` shows for `key` (origin/seq), as `--if-version` takes it. */
export async function versionId (node: TestNode, key: string): Promise<string> {
  const meta = await node.ctl(['get', key, '--meta'])
  assert.equal(meta.code, 0, meta.stderr)
  return /^version:\s+(\S+)$/m.exec(meta.stdout)?.[1] ?? assert.fail(`no version line in ${meta.stdout}`)
}
