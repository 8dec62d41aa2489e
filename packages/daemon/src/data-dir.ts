/**
 * The data dir: created 0700 (it holds the identity key, the database and the
 * socket), and locked so that two daemons never share one replica.
 *
 * The lock is a pid file, linked into place whole (see `create`), which the
 * daemon keeps open while it runs. Node has no flock(), so a lock left by a crashed daemon is
 * recognised by its pid no longer running, or (where /proc shows it) by the
 * process now under that pid holding neither the lock nor the database open:
 * after a reboot, or a crash long ago, another program may have the pid.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, closeSync, fstatSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
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
  for (let attempt = 0; attempt < 5; attempt++) {
    const held = create(path)
    if (held !== undefined) {
      locks.set(path, held)
      return { release: () => { releaseIfOurs(path, held) } }
    }
    const found = inspect(path)
    if (found === undefined) continue // taken away as we looked: try again
    if (found.pid !== undefined && found.pid !== process.pid && holds(found.pid, [found, ...identities(join(dir, 'murmur.db'))])) {
      throw new DataDirLockedError(`data dir ${dir} is in use by another murmurd (pid ${found.pid}); stop it first or choose another --data-dir`)
    }
    removeStale(path, found)
  }
  throw new DataDirLockedError(`could not lock data dir ${dir}: another murmurd is starting on it`)
}

interface FileId { dev: number, ino: number }

/**
 * Makes the lock file, whole and already held open, in one step: written
 * aside, then linked into place (which fails if a lock is there). A lock made
 * by O_EXCL and written after was briefly empty, or not yet held, and a
 * daemon starting at that moment took it for a stale one and replaced it.
 */
function create (path: string): number | undefined {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`
  writeFileSync(aside, `${process.pid}\n`, { flag: 'wx', mode: 0o600 })
  // held open while this daemon runs: the sign that the pid in it is still ours
  const held = openSync(aside, 'r')
  try {
    linkSync(aside, path)
    return held
  } catch (err) {
    closeSync(held)
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return undefined
    if (code !== 'EPERM' && code !== 'ENOTSUP') throw err
    // a file system without hard links: created in place, as before (open to the race above)
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined
      throw err
    }
    return openSync(path, 'r')
  } finally {
    rmSync(aside, { force: true })
  }
}

/** The lock there now, its pid read from the same file (undefined: none). */
function inspect (path: string): FileId & { pid?: number } | undefined {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    const { dev, ino } = fstatSync(fd)
    const pid = Number.parseInt(readFileSync(fd, 'utf8'), 10)
    return { dev, ino, ...(Number.isSafeInteger(pid) && pid > 0 ? { pid } : {}) }
  } finally {
    closeSync(fd)
  }
}

/**
 * Removes the lock `stale` judged stale, unless another daemon took it over
 * meanwhile: moved aside first, which only one of several daemons that judged
 * it stale at once can do, and put back if what was moved is not that file.
 */
function removeStale (path: string, stale: FileId): void {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.stale`
  try {
    renameSync(path, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  const moved = statSync(aside)
  if (moved.ino !== stale.ino || moved.dev !== stale.dev) {
    try { linkSync(aside, path) } catch {} // EEXIST: a third daemon locked it in this instant; it keeps it
  }
  rmSync(aside, { force: true })
}

function releaseIfOurs (path: string, held: number): void {
  if (locks.get(path) !== held) return // released already: the file (and the descriptor's number) may be another node's by now
  locks.delete(path)
  // removed while still held open, so no daemon starting now can judge it stale and take it over first
  const ours = fstatSync(held)
  if (identities(path).some(id => id.ino === ours.ino && id.dev === ours.dev)) rmSync(path, { force: true })
  closeSync(held)
}

function identities (path: string): FileId[] {
  try {
    const { dev, ino } = statSync(path)
    return [{ dev, ino }]
  } catch {
    return []
  }
}

/**
 * Whether `pid` runs and may be the daemon that holds the lock: it has one of
 * `files` open (the lock, or the database an older murmurd that did not keep
 * the lock open has). Where its open files cannot be read (no /proc, another
 * user's process), running is enough.
 */
function holds (pid: number, files: FileId[]): boolean {
  if (!isAlive(pid)) return false
  let fds: string[]
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return true
  }
  return fds.some(fd => {
    try {
      const open = statSync(`/proc/${pid}/fd/${fd}`)
      return files.some(file => file.ino === open.ino && file.dev === open.dev)
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
