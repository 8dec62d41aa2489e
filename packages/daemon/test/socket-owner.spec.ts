/**
 * Who may reach the local socket, against real murmurd processes: only its
 * owner (the socket 0600 in a 0700 directory, whatever the directory others
 * may enter), never through a link planted at the socket's path, nor in a
 * directory another user can write or owns.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { MURMURCTL, MURMURD, TestCluster, TestNode, run } from './harness.js'

const isRoot = process.getuid?.() === 0
const NOBODY = 65534
const rootOnly = isRoot ? false : 'needs root: runs a client as another user (nobody) and chowns directories'
const straceSkip = spawnSync('strace', ['-V']).status === 0 ? false : 'strace is not installed (apt-get install -y strace)'

/** Tries to connect to `path` as user nobody; resolves with 'CONNECTED' or the error code. */
async function connectAsNobody (path: string): Promise<string> {
  const script = "const s = require('net').connect(process.argv[1]); s.on('connect', () => { console.log('CONNECTED'); s.destroy() }); s.on('error', e => console.log(e.code))"
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, path], { uid: NOBODY, gid: NOBODY, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.on('error', reject)
    child.on('close', () => { resolve(out.trim()) })
  })
}

/** A node of `cluster` whose socket is at `socket` rather than in its data dir. */
async function startWithSocket (cluster: TestCluster, name: string, socket: string): Promise<TestNode> {
  const node = new SocketNode(name, join(cluster.dir, name), socket)
  cluster.nodes.set(name, node)
  return await node.start({ args: ['--socket', socket] })
}

class SocketNode extends TestNode {
  override readonly socket: string
  constructor (name: string, dataDir: string, socket: string) {
    super(name, dataDir)
    this.socket = socket
  }
}

describe('the local socket: only its owner gets in', () => {
  const cluster = new TestCluster()
  // a directory nobody may traverse, so that only the socket's own mode stands in the way
  const open = mkdtempSync(join(tmpdir(), 'murmur-sock-'))
  after(async () => {
    await cluster.close()
    rmSync(open, { recursive: true, force: true })
  })

  /** A directory for one test's socket, apart from every data dir (which murmurd makes 0700 itself). */
  const socketDir = (name: string, mode = 0o700): string => {
    const dir = join(cluster.dir, 'sockets', name)
    mkdirSync(dir, { recursive: true })
    chmodSync(dir, mode)
    return dir
  }

  const murmurd = async (name: string, socket: string): Promise<Awaited<ReturnType<typeof run>>> =>
    await run(process.execPath, [MURMURD, '--name', name, '--data-dir', join(cluster.dir, name), '--socket', socket,
      '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht', '--log-level', 'warn'], { timeoutMs: 20_000 })

  it('keeps the socket 0600 in a 0700 dir, and another user gets EACCES', { skip: rootOnly }, async () => {
    const node = await cluster.start('owner')
    assert.equal(statSync(node.socket).mode & 0o777, 0o600)
    assert.equal(statSync(node.dataDir).mode & 0o777, 0o700)
    assert.equal(await connectAsNobody(node.socket), 'EACCES')
    assert.equal((await node.ctl(['status'])).code, 0, 'the owner still gets in')
  })

  it('refuses another user by the socket\'s own mode even in a directory others may enter', { skip: rootOnly }, async () => {
    chmodSync(open, 0o755)
    const socket = join(open, 'murmurd.sock')
    const node = await startWithSocket(cluster, 'opendir', socket)
    assert.equal(statSync(socket).mode & 0o777, 0o600)
    assert.equal(await connectAsNobody(socket), 'EACCES')
    assert.equal((await run(process.execPath, [MURMURCTL, '--socket', socket, 'status'])).code, 0)
    await node.stop()
  })

  it('refuses a socket path that is a symbolic link, and leaves the link and its target alone', async () => {
    const dir = socketDir('planted')
    writeFileSync(join(dir, 'target'), 'precious')
    symlinkSync(join(dir, 'target'), join(dir, 'murmurd.sock'))
    const result = await murmurd('planted', join(dir, 'murmurd.sock'))
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /^murmurd: .*murmurd\.sock is a symbolic link \(to .*target\); murmurd never follows one/)
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
    assert.ok(lstatSync(join(dir, 'murmurd.sock')).isSymbolicLink())
    assert.equal(readFileSync(join(dir, 'target'), 'utf8'), 'precious')
  })

  it('refuses a socket path that is a regular file, and leaves it as it was', async () => {
    const dir = socketDir('file')
    writeFileSync(join(dir, 'murmurd.sock'), 'not a socket')
    const result = await murmurd('file', join(dir, 'murmurd.sock'))
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /^murmurd: .*murmurd\.sock exists and is not a socket/)
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
    assert.equal(readFileSync(join(dir, 'murmurd.sock'), 'utf8'), 'not a socket')
  })

  it('refuses a --socket in a directory its group can write, though no one else can', async () => {
    const dir = socketDir('group', 0o770)
    const result = await murmurd('group', join(dir, 'murmurd.sock'))
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /^murmurd: socket directory .*group is writable by other users \(mode 770\).*chmod go-w/)
    assert.deepEqual(readdirSync(dir), [])
  })

  it('refuses a --socket in a directory other users can write (e.g. /tmp)', async () => {
    const dir = socketDir('shared', 0o1777)
    const result = await murmurd('shared', join(dir, 'murmurd.sock'))
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /^murmurd: socket directory .*shared is writable by other users \(mode 1777\).*chmod go-w/)
    assert.equal(result.stderr.trim().split('\n').length, 1)
    assert.deepEqual(readdirSync(dir), [])
  })

  it('refuses a --socket in a directory another user owns', { skip: rootOnly }, async () => {
    const dir = socketDir('theirs')
    chownSync(dir, NOBODY, NOBODY)
    const result = await murmurd('theirs', join(dir, 'murmurd.sock'))
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /^murmurd: socket directory .*theirs belongs to another user \(uid 65534\)/)
  })

  it('binds the socket under a 0177 umask, so it is never open to others even before its mode is set, and puts the umask back', { skip: straceSkip }, async () => {
    const node = cluster.node('umask')
    const trace = join(cluster.dir, 'umask.strace')
    await node.start({ prefix: ['strace', '-f', '-o', trace, '-e', 'trace=umask,bind'] })
    await node.stop()
    const lines = readFileSync(trace, 'utf8').split('\n')
    const bound = lines.findIndex(line => /bind\(\d+, \{sa_family=AF_UNIX, sun_path="[^"]*murmurd\.sock"\}/.test(line))
    assert.ok(bound >= 0, `murmurd bound its socket: ${lines.filter(line => line.includes('bind')).join(' | ').slice(0, 500)}`)
    const masked = lines.slice(0, bound).findLastIndex(line => /umask\(0177\)/.test(line))
    assert.ok(masked >= 0, `a 0177 umask before the bind: ${lines.slice(0, bound).filter(line => line.includes('umask')).join(' | ')}`)
    assert.ok(lines.slice(masked + 1, bound).every(line => !/umask\(/.test(line)), 'no other umask between it and the bind')
    assert.ok(lines.slice(bound).some(line => /umask\(0[0-7]*\)\s+= 0177/.test(line)), 'the umask put back after the bind')
  })

  it('creates a missing --socket directory 0700', async () => {
    const socket = join(cluster.dir, 'sockets', 'made', 'run', 'murmurd.sock')
    const node = await startWithSocket(cluster, 'made', socket)
    assert.equal(statSync(join(cluster.dir, 'sockets', 'made')).mode & 0o777, 0o700)
    assert.equal(statSync(join(cluster.dir, 'sockets', 'made', 'run')).mode & 0o777, 0o700)
    assert.equal(statSync(socket).mode & 0o777, 0o600)
    await node.stop()
  })
})
