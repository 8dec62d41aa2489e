/**
 * Replacing a file whole: the new content goes to a temporary file beside it,
 * is synced, takes the old file's mode (and owner, where allowed) and is
 * renamed over it, so a reader sees the old file or the new one, never a mix.
 */
import { randomBytes } from 'node:crypto'
import { chownSync, closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/** Writes `content` to `path` unless it already holds exactly that; true when it wrote. */
export function replaceFile (path: string, content: string, newMode = 0o644): boolean {
  let old: { mode: number, uid: number, gid: number } | undefined
  try {
    const stat = statSync(path)
    old = { mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid }
    if (readFileSync(path, 'utf8') === content) return false
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`)
  const fd = openSync(temp, 'wx', 0o600)
  try {
    writeSync(fd, content)
    fchmodSync(fd, old?.mode ?? newMode)
    fsyncSync(fd)
  } catch (err) {
    closeSync(fd)
    rmSync(temp, { force: true })
    throw err
  }
  closeSync(fd)
  if (old !== undefined && process.getuid?.() === 0) {
    try { chownSync(temp, old.uid, old.gid) } catch {}
  }
  try {
    renameSync(temp, path)
  } catch (err) {
    rmSync(temp, { force: true })
    throw err
  }
  syncDir(dirname(path))
  return true
}

/** Puts a directory's entries (a rename into it) on disk. */
export function syncDir (dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
