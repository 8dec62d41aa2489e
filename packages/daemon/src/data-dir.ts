/**
 * The data dir: created 0700 (it holds the identity key, the database and the
 * socket), and locked so that two daemons never share one replica.
 *
 * The lock is a kernel lock on `murmurd.lock` (see `lockFile`), which the
 * daemon holds while it runs and the kernel drops when it ends, crashed or
 * not: whether a lock is stale is never guessed. The pid file beside it,
 * written once the lock is held, says which process has it, and keeps a
 * murmurd of a version from before the kernel lock (which knows the pid file
 * only) off the data dir; such a daemon's own pid file is judged as it did:
 * left by a crash once its pid is gone, or (where /proc shows it) once the
 * process now under that pid holds neither it nor the database open, as after
 * a reboot, when another program may have the pid.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { lockFile, type FileLock } from '@murmur/core'
import { DataDirError, DataDirLockedError } from './errors.js'

export const LOCK_FILE = 'murmurd.pid'
const KERNEL_LOCK_FILE = 'murmurd.lock'
/** How long a lock that no pid file explains may stay taken before this daemon gives up on it. */
const LOCK_WAIT_MS = 5_000

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
 * Pid files this process holds. A second node in this process would find the
 * kernel lock taken too, but this says which it is: two embedded nodes on one
 * data dir, not another murmurd.
 */
const locks = new Map<string, number>()

export function lockDataDir (dataDir: string): DataDirLock {
  // as /proc shows open files: symbolic links resolved
  const dir = realpathSync(dataDir)
  const path = join(dir, LOCK_FILE)
  if (locks.has(path)) throw new DataDirLockedError(`data dir ${dir} is in use by another murmur node in this process; stop it first or choose another data dir`)
  const lock = lockKernel(dir, path)
  if (lock === undefined) throw inUse(dir, holder(dir, path) ?? 'starting')
  let held: number
  try {
    const older = holder(dir, path)
    if (older !== undefined) throw inUse(dir, older)
    held = writePid(path)
  } catch (err) {
    lock.release()
    throw err
  }
  locks.set(path, held)
  return { release: () => { release(path, held, lock) } }
}

/**
 * The kernel lock, or undefined once it is plainly another murmurd's: the pid
 * file names a running daemon, or none came in `LOCK_WAIT_MS`. Found taken
 * with no daemon named, it may only be in the middle of being taken by a
 * daemon starting now, which can fail as this one did (see `lockFile`): tried
 * again, with a wait that lets one of them through.
 */
function lockKernel (dir: string, path: string): FileLock | undefined {
  const deadline = Date.now() + LOCK_WAIT_MS
  let lock = lockFile(join(dir, KERNEL_LOCK_FILE), 0)
  while (lock === undefined && holder(dir, path) === undefined && Date.now() < deadline) lock = lockFile(join(dir, KERNEL_LOCK_FILE), 200)
  return lock
}

function inUse (dir: string, pid: number | 'starting'): DataDirLockedError {
  if (pid === 'starting') return new DataDirLockedError(`could not lock data dir ${dir}: another murmurd is starting on it`)
  return new DataDirLockedError(`data dir ${dir} is in use by another murmurd (pid ${pid}); stop it first or choose another --data-dir`)
}

interface FileId { dev: number, ino: number }

/** The pid of the running daemon the pid file names, if one does. */
function holder (dir: string, path: string): number | undefined {
  const found = inspect(path)
  if (found?.pid === undefined || found.pid === process.pid) return undefined
  return holds(found.pid, [found, ...identities(join(dir, 'murmur.db'))]) ? found.pid : undefined
}

/**
 * Puts this process's pid file in place, whole (written aside, then renamed
 * over whatever a crash left), and held open while the daemon runs: what a
 * murmurd of an older version takes for the sign that the pid is still ours.
 */
function writePid (path: string): number {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`
  writeFileSync(aside, `${process.pid}\n`, { flag: 'wx', mode: 0o600 })
  const held = openSync(aside, 'r')
  try {
    renameSync(aside, path)
    return held
  } catch (err) {
    closeSync(held)
    rmSync(aside, { force: true })
    throw err
  }
}

/** The pid file there now, its pid read from the same file (undefined: none). */
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

function release (path: string, held: number, lock: FileLock): void {
  if (locks.get(path) !== held) return // released already: the descriptor's number may be another file's by now
  locks.delete(path)
  // the pid file goes before the lock does, so the daemon that locks next never finds ours; and only if it is
  // ours (held open, its inode is no other file's): a daemon of an older version may have replaced it
  const ours = fstatSync(held)
  if (identities(path).some(id => id.ino === ours.ino && id.dev === ours.dev)) rmSync(path, { force: true })
  closeSync(held)
  lock.release()
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
 * Whether `pid` runs and may be the daemon that holds the pid file: it has
 * one of `files` open (the pid file, or the database an older murmurd that did
 * not keep the pid file open has). Where its open files cannot be read (no
 * /proc, another user's process), running is enough.
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
