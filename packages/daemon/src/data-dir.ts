/**
 * The data dir: created 0700 (it holds the identity key, the database and the
 * socket), and locked so that two daemons never share one replica.
 *
 * The lock is a pid file created with O_EXCL, which the daemon keeps open
 * while it runs. Node has no flock(), so a lock left by a crashed daemon is
 * recognised by its pid no longer running, or (where /proc shows it) by the
 * process now under that pid holding neither the lock nor the database open:
 * after a reboot, or a crash long ago, another program may have the pid.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DataDirError, DataDirLockedError } from './errors.js'

export const LOCK_FILE = 'murmurd.pid'

export function prepareDataDir (dataDir: string): string {
  const dir = resolve(dataDir)
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700)
  } catch (err) {
    throw new DataDirError(`cannot use data dir ${dir}: ${(err as Error).message.replace(/, \w+ '.*'$/, '')}; it must be a directory this user owns, or can create`)
  }
  return dir
}

export interface DataDirLock {
  release(): void
}

/**
 * Lock files this process holds. The pid in the file cannot tell a lock of a
 * running node in this process (two embedded nodes on one data dir would
 * sign different ops with one sequence number) from one left by a crashed
 * daemon that had this pid (in a container, often pid 1).
 */
const locks = new Map<string, number>()

export function lockDataDir (dataDir: string): DataDirLock {
  // as /proc shows open files: symbolic links resolved
  const dir = realpathSync(dataDir)
  const path = join(dir, LOCK_FILE)
  if (locks.has(path)) throw new DataDirLockedError(`data dir ${dir} is in use by another murmur node in this process; stop it first or choose another data dir`)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 })
      // held open while this daemon runs: the sign that the pid in it is still ours
      const held = openSync(path, 'r')
      locks.set(path, held)
      return { release: () => { releaseIfOurs(path, held) } }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = readPid(path)
      if (holder != null && holder !== process.pid && holds(holder, [path, join(dir, 'murmur.db')])) {
        throw new DataDirLockedError(`data dir ${dir} is in use by another murmurd (pid ${holder}); stop it first or choose another --data-dir`)
      }
      rmSync(path, { force: true })
    }
  }
  throw new DataDirLockedError(`could not lock data dir ${dir}: another murmurd is starting on it`)
}

function releaseIfOurs (path: string, held: number): void {
  if (locks.get(path) !== held) return // released already: the file (and the descriptor's number) may be another node's by now
  locks.delete(path)
  closeSync(held)
  if (readPid(path) === process.pid) rmSync(path, { force: true })
}

function readPid (path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether `pid` runs and may be the daemon that holds the lock: it has one of
 * `files` open (the lock, or the database an older murmurd that did not keep
 * the lock open has). Where its open files cannot be read (no /proc, another
 * user's process), running is enough.
 */
function holds (pid: number, files: string[]): boolean {
  if (!isAlive(pid)) return false
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return true
  }
  return fds.some(fd => {
    try {
      return files.includes(readlinkSync(`/proc/${pid}/fd/${fd}`))
    } catch {
      return false
    }
  })
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
