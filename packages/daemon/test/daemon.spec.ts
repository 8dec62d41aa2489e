/**
 * murmurd as a process: flags and environment, start-up output, the data-dir
 * lock, the socket's life cycle and permissions, identity and shutdown.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { MURMURD, TestCluster, logged, run, waitFor } from './harness.js'

const murmurd = async (args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Awaited<ReturnType<typeof run>>> =>
  await run(process.execPath, [MURMURD, ...args], { env, timeoutMs: 20_000 })

describe('murmurd process', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('refuses bad configuration with one line and exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /--name is required/],
      [['--name', 'bad name!'], /invalid --name/],
      [['--name', 'x', '--listen', 'garbage'], /invalid --listen "garbage": not a multiaddr/],
      [['--name', 'x', '--peer', '/ip4/999.1.1.1/tcp/1'], /invalid --peer/],
      [['--name', 'x', '--durability', 'sometimes'], /durability/],
      [['--name', 'x', '--socket', `/tmp/${'s'.repeat(120)}.sock`], /over the 107-byte limit/],
      [['--name', 'x', '--bogus'], /unknown option/]
    ]
    for (const [args, message] of cases) {
      const result = await murmurd(args, { ...process.env, MURMUR_NAME: '', XDG_DATA_HOME: cluster.dir })
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr, message)
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${result.stderr}`)
    }
  })

  it('prints help and version', async () => {
    const help = await murmurd(['--help'])
    assert.equal(help.code, 0)
    for (const flag of ['--name', '--data-dir', '--group', '--listen', '--peer', '--socket', '--no-mdns', '--no-dht', '--log-level']) assert.match(help.stdout, new RegExp(flag))
    // a data dir that joined with a ticket keeps that ticket's group when --group is not given
    assert.match(help.stdout.replace(/\s+/g, ' '), /--group <group> replication group; nodes replicate only within their group \(default: the group a ticket joined, else "default"\)/)
    const version = await murmurd(['--version'])
    assert.equal(version.code, 0)
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/)
  })

  it('prints its identity and copyable addresses at start, logs JSON to stderr, and takes MURMUR_* settings', async () => {
    const node = cluster.node('banner')
    await node.start({ env: { ...process.env, MURMUR_GROUP: 'from-env', MURMUR_NAME: 'ignored-because-flag-wins' } })
    const status = await node.status()
    assert.equal(status.name, 'banner', 'flags win over the environment')
    assert.equal(status.group, 'from-env')
    assert.match(node.stdout, new RegExp(`peer id: +${status.id}`))
    assert.match(node.stdout, new RegExp(`/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${status.id}`))
    assert.match(node.stdout, new RegExp(`murmurd --name <other> --peer /ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${status.id} --group from-env`))
    assert.match(node.stdout, new RegExp(`socket: +${node.socket}`))
    const firstLog = JSON.parse(node.stderr.split('\n')[0] as string)
    assert.equal(typeof firstLog.level, 'number')
    assert.equal(status.mode, 'leaderless')
    assert.equal(status.role, 'COORDINATOR', 'a lone node coordinates itself')
    assert.equal(status.coordinator, status.id)
    await node.stop()
  })

  it('locks its data dir against a second daemon, and keeps the socket 0600 in a 0700 dir', async () => {
    const node = await cluster.start('locked')
    assert.equal(statSync(node.dataDir).mode & 0o777, 0o700)
    assert.equal(statSync(node.socket).mode & 0o777, 0o600)
    const second = await murmurd(['--name', 'locked', '--data-dir', node.dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht'])
    assert.equal(second.code, 1)
    assert.match(second.stderr, /in use by another murmurd \(pid \d+\)/)
    assert.equal((await node.ctl(['status'])).code, 0, 'the first daemon still serves')
    // the same dir through a symbolic link is the same dir
    const link = join(cluster.dir, 'locked-link')
    symlinkSync(node.dataDir, link)
    const third = await murmurd(['--name', 'locked', '--data-dir', link, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht'])
    assert.equal(third.code, 1, third.stderr)
    assert.match(third.stderr, /in use by another murmurd \(pid \d+\)/)
  })

  it('takes over a lock whose pid another program has now (after a reboot, any pid is anyone\'s)', async () => {
    const dir = join(cluster.dir, 'reused')
    mkdirSync(dir, { mode: 0o700 })
    const other = spawn('sleep', ['60'], { stdio: 'ignore' })
    try {
      writeFileSync(join(dir, 'murmurd.pid'), `${other.pid}\n`)
      const node = cluster.node('reused')
      await node.start()
      assert.equal(readFileSync(join(dir, 'murmurd.pid'), 'utf8'), `${node.process?.pid}\n`, 'the lock is the new daemon\'s')
      await node.stop()
    } finally {
      other.kill('SIGKILL')
    }
  })

  it('refuses a data dir whose pid file a running murmurd of an older version holds (it knows no kernel lock)', async () => {
    const dir = join(cluster.dir, 'older')
    mkdirSync(dir, { mode: 0o700 })
    const lock = join(dir, 'murmurd.pid')
    // as an older murmurd kept it: its pid written, the file held open while it runs
    const older = spawn('sh', ['-c', 'echo $$ > "$0.new" && mv "$0.new" "$0" && exec sleep 60 < "$0"', lock], { stdio: 'ignore' })
    try {
      await waitFor(() => existsSync(lock) && readFileSync(lock, 'utf8') === `${older.pid}\n` && readFileSync(`/proc/${older.pid}/cmdline`, 'utf8').startsWith('sleep'), 'the older murmurd\'s stand-in to hold its pid file')
      const result = await murmurd(['--name', 'older', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht'])
      assert.equal(result.code, 1, result.stderr)
      assert.match(result.stderr, new RegExp(`in use by another murmurd \\(pid ${older.pid}\\)`))
      assert.equal(readFileSync(lock, 'utf8'), `${older.pid}\n`, 'its pid file is left as it was')
    } finally {
      older.kill('SIGKILL')
    }
  })

  // root can chmod any directory: the refusal is seen as another user (nobody), through setpriv
  // (and a checkout nobody may read: a clone in a 0700 directory is not; the dangling-link test below covers the same line)
  const asNobody = process.getuid?.() === 0 && spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', MURMURD]).status === 0
  it('refuses a data dir it cannot make private in one line, exit 1, without a stack trace', { skip: asNobody ? false : 'needs root, setpriv and a checkout nobody can read, to run murmurd as nobody' }, async () => {
    const shared = mkdtempSync(join(tmpdir(), 'murmur-shared-'))
    try {
      chmodSync(shared, 0o755) // root's, readable by all: nobody can neither own it nor chmod it
      const result = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, MURMURD, '--name', 'nodir', '--data-dir', shared, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht'],
        { env: { PATH: process.env.PATH, HOME: join(shared, 'home') }, timeoutMs: 20_000 })
      assert.deepEqual([result.code, result.stderr], [1, `murmurd: cannot use data dir ${shared}: EPERM: operation not permitted; it must be a directory this user owns, or can create\n`])
    } finally {
      rmSync(shared, { recursive: true, force: true })
    }
  })

  it('refuses a socket path where another daemon listens, and leaves that daemon alone', async () => {
    const first = cluster.node('locked')
    const other = join(cluster.dir, 'other')
    const result = await murmurd(['--name', 'other', '--data-dir', other, '--socket', first.socket, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /another murmurd is listening on/)
    assert.equal((await first.ctl(['status'])).code, 0)
    assert.equal(existsSync(join(other, 'murmurd.pid')), false, 'the refused daemon released its lock')
  })

  it('stops on SIGTERM with exit 0, removing its socket and lock', async () => {
    const node = cluster.node('locked')
    assert.equal(await node.stop('SIGTERM'), 0)
    assert.equal(existsSync(node.socket), false)
    assert.equal(existsSync(join(node.dataDir, 'murmurd.pid')), false)
  })

  it('a failure while stopping is one line and exit 1, not a stack trace, and the rest of the node still stops', async () => {
    const node = await cluster.start('unremovable')
    // the socket cannot be removed at the stop: a directory (with a file in it) now has its path
    rmSync(node.socket)
    mkdirSync(node.socket)
    writeFileSync(join(node.socket, 'keep'), '')
    assert.equal(await node.stop('SIGTERM'), 1)
    const lines = node.stderr.split('\n').filter(line => line !== '' && !line.startsWith('{'))
    assert.deepEqual(lines.map(line => line.replace(/:.*/, '')), ['murmurd'], `one murmurd: line, nothing else: ${lines.join('\n')}`)
    assert.match(lines[0] as string, /^murmurd: .*murmurd\.sock/)
    assert.equal(existsSync(join(node.dataDir, 'murmurd.pid')), false, 'the node stopped all the same: its lock released')
    assert.match(node.stderr, /"msg":"node stopped"/)
    rmSync(node.socket, { recursive: true })
  })

  it('after kill -9, restarts over the stale socket and lock with the same peer ID and data', async () => {
    const node = await cluster.start('crashy')
    await node.put('survives', 'kill -9')
    const { id } = await node.status()
    await node.stop('SIGKILL')
    assert.equal(existsSync(node.socket), true, 'a crash leaves the socket behind')
    await node.start()
    assert.equal((await node.status()).id, id)
    assert.equal((await node.ctl(['get', 'survives'])).stdout, 'kill -9\n')
  })

  it('refuses to start with an unreadable identity key rather than make a new one', async () => {
    const dataDir = join(cluster.dir, 'corrupt')
    mkdirSync(dataDir, { mode: 0o700 })
    writeFileSync(join(dataDir, 'peer.key'), 'not a key')
    const result = await murmurd(['--name', 'corrupt', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /identity key .*peer\.key is corrupt/)
    assert.equal(readFileSync(join(dataDir, 'peer.key'), 'utf8'), 'not a key', 'the key file is left as it was')
  })

  it('exits 1 with a clear message when its listen port is taken', async () => {
    const node = cluster.node('crashy')
    const port = (await node.addr()).split('/')[4] as string
    const result = await murmurd(['--name', 'porty', '--data-dir', join(cluster.dir, 'porty'), '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--no-mdns', '--no-dht'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /address in use/)
  })

  it('exits 1 with one line when the data dir cannot be made (a dangling link), not a stack trace', async () => {
    const dataDir = join(cluster.dir, 'dangling')
    symlinkSync(join(cluster.dir, 'nowhere'), dataDir)
    const result = await murmurd(['--name', 'dangling', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^murmurd: cannot use data dir .*dangling: ENOENT: .*; it must be a directory this user owns, or can create\n$/)
  })

  it('exits 1 with one line naming a --listen address no transport takes', async () => {
    const result = await murmurd(['--name', 'quic', '--data-dir', join(cluster.dir, 'quic'), '--listen', '/ip4/127.0.0.1/udp/0/quic-v1', '--no-mdns', '--no-dht'])
    assert.equal(result.code, 1)
    assert.match(result.stderr, /^murmurd: cannot listen on \/ip4\/127\.0\.0\.1\/udp\/0\/quic-v1: murmurd listens on TCP .*; check --listen\n$/)
  })

  it('takes --peer-rotate and --anti-entropy-interval past 2^31 ms without timers that fire at once', async () => {
    const node = await cluster.start('patient', { args: ['--peer-rotate', '3000000000', '--anti-entropy-interval', '3000000000', '--anti-entropy-max-interval', '3000000000'] })
    // stderr is one ordered stream: a timer set while starting warns before "ready"
    const log = await waitFor(() => node.stderr.includes('"msg":"ready"') ? node.stderr : undefined, 'murmurd to log ready')
    assert.doesNotMatch(log, /TimeoutOverflowWarning/)
    await node.stop()
  })

  it('does not dial itself when a --peer names it (a config file every member shares)', async () => {
    const node = await cluster.start('selfish')
    const addr = await node.addr()
    await node.stop()
    await node.start({ listen: addr.replace(/\/p2p\/.*$/, ''), peers: [addr] })
    await logged(node, /--peer names this node itself; not dialled/, 'it skipped its own address')
    assert.doesNotMatch(node.stderr, /cannot reach peer/)
    await node.stop()
  })

  it('a second SIGINT while stopping forces the exit (130), a first one alone waits for the stop', async () => {
    // the stop is held by what it waits for last: telling systemd STOPPING=1. A systemd-notify
    // that never returns (its manager not reading) holds it for the 10 s murmurd gives the child;
    // two signals sent back to back arrive as one, so the second goes only once the first is taken
    const bin = join(cluster.dir, 'stuck-bin')
    mkdirSync(bin)
    const pidFile = join(cluster.dir, 'stuck-notify.pid')
    writeFileSync(join(bin, 'systemd-notify'), `#!/bin/sh\ncase "$*" in *STOPPING=1*) echo $$ > ${pidFile}; exec sleep 20;; esac\n`, { mode: 0o755 })
    const node = cluster.node('forced')
    await node.start({ env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, NOTIFY_SOCKET: join(cluster.dir, 'nobody-reads.sock') } })
    try {
      node.process?.kill('SIGINT')
      await logged(node, /"msg":"node stopped"/, 'the node to stop, then wait on systemd-notify')
      await waitFor(() => existsSync(pidFile) ? true : undefined, 'systemd-notify STOPPING=1 to start')
      assert.equal(node.process?.exitCode, null, `a first signal waits for the stop to end: ${node.stderr.slice(-1000)}`)
      node.process?.kill('SIGINT')
      const code = await waitFor(() => node.process?.exitCode ?? node.process?.signalCode ?? undefined, 'murmurd to exit', 5_000)
      assert.equal(code, 130, `forced exit: ${node.stderr.slice(-1000)}`)
      assert.match(node.stderr, /"signal":"SIGINT","msg":"forced exit"/)
    } finally {
      // the stand-in outlives a forced murmurd: stop it by the PID it wrote
      if (existsSync(pidFile)) try { process.kill(Number(readFileSync(pidFile, 'utf8'))) } catch {}
    }
  })
})
