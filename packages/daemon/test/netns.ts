/**
 * Runs murmurd nodes on separate "hosts" of a private LAN made of Linux network
 * namespaces (scripts/netns-cluster.sh), so tests can cut links, isolate hosts
 * and drop packets. murmurctl stays in the main namespace: a node's Unix
 * socket is a path on the shared filesystem, not a network address.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { root, run, TestCluster, type RunResult, type StartOptions, type TestNode } from './harness.js'

export const NETNS_CLUSTER = join(root, 'scripts/netns-cluster.sh')

/** Every host has its own address, so every murmurd can listen on the same port. */
export const MURMUR_PORT = 4001

const TOOLS = [['ip', '-V', 'iproute2'], ['nft', '-v', 'nftables']] as const
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

export class NetnsCluster {
  readonly id: string
  readonly size: number
  /** The murmurd nodes started with `start()`, in one temporary directory. */
  readonly nodes = new TestCluster()
  private addresses: string[] = []
  private closed = false
  /** For a run that ends without close(): kills what runs in the namespaces, removes them and the nodes' data. */
  private readonly downSync = (): void => {
    spawnSync(NETNS_CLUSTER, ['down', this.id], { stdio: 'ignore', timeout: 30_000 })
    rmSync(this.nodes.dir, { recursive: true, force: true })
  }
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.downSync()
    process.kill(process.pid, signal)
  }

  /** Why namespace tests cannot run here, or undefined when they can. */
  static available (): string | undefined {
    if (process.platform !== 'linux') return 'network namespaces need Linux'
    if (process.getuid?.() !== 0) return 'network namespaces need root'
    for (const [tool, flag, pkg] of TOOLS) {
      if (spawnSync(tool, [flag], { stdio: 'ignore' }).status !== 0) return `'${tool}' is missing: run scripts/install-test-deps.sh (apt-get install -y ${pkg})`
    }
    // root in a container may still lack CAP_SYS_ADMIN; an anonymous namespace leaves nothing behind
    if (spawnSync('unshare', ['--net', 'true'], { stdio: 'ignore' }).status !== 0) return 'cannot create network namespaces here (unshare --net failed)'
    return undefined
  }

  /**
   * Brings up `size` hosts on a bridge under a random cluster id; or, with
   * `'nat'`, the six hosts of `netns-cluster.sh nat-up`: h1 a public relay
   * host, h3 and h5 on two private LANs behind the NAT routers h2 and h4, h6
   * a public stranger; with `'nat6'`, the same on IPv6 (`nat6-up`), where
   * libp2p counts the public segment as public.
   */
  static async create (size: number, layout: 'lan' | 'nat' | 'nat6' = 'lan'): Promise<NetnsCluster> {
    const cluster = new NetnsCluster(`t${randomBytes(4).toString('hex')}`, layout === 'lan' ? size : 6)
    try {
      await (layout === 'lan' ? cluster.script('up', String(size)) : cluster.script(`${layout}-up`))
      size = cluster.size
      for (let i = 1; i <= size; i++) cluster.addresses.push((await cluster.script('ip', String(i))).trim())
    } catch (err) {
      await cluster.close()
      throw err
    }
    return cluster
  }

  private constructor (id: string, size: number) {
    this.id = id
    this.size = size
    // a crashed or interrupted run must not leave namespaces or murmurds behind
    process.on('exit', this.downSync)
    for (const signal of SIGNALS) process.once(signal, this.onSignal)
  }

  namespace (host: number): string {
    return `mmr-${this.id}-h${host}`
  }

  ip (host: number): string {
    const address = this.addresses[host - 1]
    if (address == null) throw new RangeError(`no host ${host} in a cluster of ${this.size}`)
    return address
  }

  /** The murmurd listen address on a host, usable as a `--peer` (no /p2p/ part). */
  addr (host: number): string {
    const ip = this.ip(host)
    return `/ip${ip.includes(':') ? 6 : 4}/${ip}/tcp/${MURMUR_PORT}`
  }

  /** Starts murmurd `name` inside a host's namespace (mDNS off unless `options.mdns`). */
  async start (host: number, name: string, options: StartOptions = {}): Promise<TestNode> {
    return await this.nodes.start(name, { listen: this.addr(host), prefix: ['ip', 'netns', 'exec', this.namespace(host)], ...options })
  }

  /** Runs a command inside a host's namespace. */
  async exec (host: number, command: string, args: string[], timeoutMs?: number): Promise<RunResult> {
    return await run('ip', ['netns', 'exec', this.namespace(host), command, ...args], { timeoutMs })
  }

  /** True when host `from` can open a TCP connection to host `to` on `port` within 2 s. */
  async probe (from: number, to: number, port = MURMUR_PORT): Promise<boolean> {
    return (await run(NETNS_CLUSTER, ['probe', this.id, String(from), String(to), String(port)])).code === 0
  }

  async cut (i: number, j: number): Promise<void> { await this.script('cut', String(i), String(j)) }
  async heal (i: number, j: number): Promise<void> { await this.script('heal', String(i), String(j)) }
  async isolate (host: number): Promise<void> { await this.script('isolate', String(host)) }
  async rejoin (host: number): Promise<void> { await this.script('rejoin', String(host)) }
  async loss (host: number, percent: number): Promise<void> { await this.script('loss', String(host), String(percent)) }
  async noloss (host: number): Promise<void> { await this.script('noloss', String(host)) }
  async healAll (): Promise<void> { await this.script('heal-all') }

  /** The namespaces of this cluster that still exist. */
  leftovers (): string[] {
    const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout
    return list.split('\n').map(line => line.split(' ')[0] ?? '').filter(name => name.startsWith(`mmr-${this.id}-`))
  }

  /** Stops the nodes, removes their data and the namespaces. Safe to call twice. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.nodes.close()
    } finally {
      await this.script('down')
    }
    process.off('exit', this.downSync)
    for (const signal of SIGNALS) process.off(signal, this.onSignal)
  }

  private async script (command: string, ...args: string[]): Promise<string> {
    const env = { ...process.env, MMR_OWNER_PID: String(process.pid) }
    const result = await run(NETNS_CLUSTER, [command, this.id, ...args], { env })
    if (result.code !== 0) throw new Error(`netns-cluster.sh ${command} ${this.id} ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`)
    return result.stdout
  }
}
