/**
 * The data dir: created 0700 (it holds the identity key, the database and the
 * socket), and locked so that two daemons never share one replica.
 *
 * The lock is a pid file created with O_EXCL. Node has no flock(), so a lock
 * left by a crashed daemon is recognised by its pid no longer running.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
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

export function lockDataDir (dir: string): DataDirLock {
  const path = join(dir, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 })
      return { release: () => releaseIfOurs(path) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = readPid(path)
      if (holder != null && holder !== process.pid && isAlive(holder)) {
        throw new DataDirLockedError(`data dir ${dir} is in use by another murmurd (pid ${holder}); stop it first or choose another --data-dir`)
      }
      rmSync(path, { force: true })
    }
  }
  throw new DataDirLockedError(`could not lock data dir ${dir}: another murmurd is starting on it`)
}

function releaseIfOurs (path: string): void {
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

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
