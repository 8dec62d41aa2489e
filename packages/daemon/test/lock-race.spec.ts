/**
 * murmurd started at the same moment on one data dir whose lock a crashed
 * daemon left: exactly one takes it over, and the others exit with the "in
 * use" error. Real processes, each with its own socket so that the lock alone
 * stands between them, under strace, which holds their system calls on the
 * lock files so that their steps interleave as a busy machine may interleave
 * them, not only as a quiet one does (microseconds apart).
 *
 * The pid-file lock the kernel lock replaced failed the staggered rounds
 * every time (both ran): the daemon slow to rename moved aside the pid file
 * the other had just put in place, found it had the stale one's inode number
 * (ext4 gives a file the number of the one just removed) and removed it as
 * the stale one. The first round, with even delays, is the test as it was
 * before, which that lock failed once in five runs: most likely the same
 * window, met by chance.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { MurmurClient } from '@murmur/protocol/client'
import { MURMURD, waitFor } from './harness.js'

interface Racer { child: ReturnType<typeof spawn>, socket: string, stderr: string, code?: number | null }

/**
 * murmurd under strace, which holds every system call on the lock files for
 * 100 ms, and a rename of one for `renameMs`: the step between judging a lock
 * stale and moving it away, stretched so that another daemon's whole
 * take-over fits inside it.
 */
function race (dataDir: string, socket: string, renameMs: number): Racer {
  const paths = ['murmurd.pid', 'murmurd.lock'].flatMap(name => ['-P', join(dataDir, name)])
  const child = spawn('strace', ['-f', '-qq', '-o', '/dev/null', ...paths, '-e', 'inject=all:delay_enter=100000', '-e', `inject=rename,renameat,renameat2:delay_enter=${renameMs * 1000}`,
    process.execPath, MURMURD, '--name', 'racer', '--data-dir', dataDir, '--socket', socket, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht'],
  // a group of their own: a signal to strace alone does not reach murmurd
  { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  const racer: Racer = { child, socket, stderr: '' }
  child.stderr?.on('data', (d: Buffer) => { racer.stderr += d.toString() })
  child.on('exit', code => { racer.code = code })
  return racer
}

function signal (racer: Racer, name: NodeJS.Signals): void {
  if (racer.child.exitCode == null && racer.child.signalCode == null) process.kill(-(racer.child.pid as number), name)
}

async function exited (racer: Racer): Promise<void> {
  if (racer.child.exitCode == null && racer.child.signalCode == null) await new Promise(resolve => racer.child.once('exit', resolve))
}

async function answers (socket: string): Promise<boolean> {
  try {
    const client = await MurmurClient.connect(socket)
    try {
      await client.call('node_status', {})
      return true
    } finally {
      client.close()
    }
  } catch {
    return false
  }
}

const skip = spawnSync('strace', ['-V']).status === 0 ? false : 'strace is not installed (apt-get install -y strace)'

// each round: the delay of a rename, in ms, for each racer
const ROUNDS = [[100, 100], [1000, 3000], [3000, 1000], [1000, 2000, 3000]]

describe('data dir lock', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-lock-race-'))
  const racers: Racer[] = []
  after(async () => {
    for (const racer of racers) signal(racer, 'SIGKILL')
    await Promise.all(racers.map(exited))
    rmSync(dir, { recursive: true, force: true })
  })

  it('murmurd started together over a stale lock: exactly one runs', async () => {
    // a pid no process has now: a finished child's
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim()
    // the rounds run side by side, each on a data dir of its own: strace's delays, not the CPU, order each one's steps
    await Promise.all(ROUNDS.map(async (delays, round) => {
      const dataDir = join(dir, `round${round}`)
      mkdirSync(dataDir, { mode: 0o700 })
      writeFileSync(join(dataDir, 'murmurd.pid'), `${gone}\n`)
      const group = delays.map((ms, i) => race(dataDir, join(dir, `r${round}-${i}.sock`), ms))
      racers.push(...group)
      // each either answers on its socket or has exited
      const running = await waitFor(async () => {
        const up = await Promise.all(group.map(async r => r.code === undefined && await answers(r.socket)))
        return group.every((r, i) => up[i] === true || r.code !== undefined) ? up.filter(Boolean).length : undefined
      }, `round ${round}: every murmurd to answer or exit`, 60_000, 100)
      assert.equal(running, 1, `round ${round} (renames held ${delays.join(', ')} ms): exactly one murmurd runs on the data dir; stderr: ${group.map(r => r.stderr.split('\n').filter(l => !l.startsWith('{')).join(' ')).join(' | ')}`)
      for (const refused of group.filter(r => r.code !== undefined)) {
        assert.equal(refused.code, 1)
        assert.match(refused.stderr, /^murmurd: (data dir .* is in use by another murmurd \(pid \d+\)|could not lock data dir .*: another murmurd is starting on it)/m)
      }
      for (const r of group) signal(r, 'SIGTERM')
      await Promise.all(group.map(exited))
    }))
  })
})
