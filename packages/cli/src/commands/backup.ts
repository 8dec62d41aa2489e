/**
 * `murmurctl backup <file>`: a consistent copy of the running node's
 * database. murmurd makes it (SQLite's online backup, while it keeps
 * serving) and murmurctl reads it over the socket into `<file>.part`, checks
 * its length and SHA-256, syncs it and renames it to `<file>`: the file is
 * either a whole backup or absent. A progress bar shows on a terminal.
 */
import { createHash } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { MAX_BACKUP_CHUNK_BYTES } from '@murmur/protocol/client'
import { emit, withSession, type CommandContext } from '../context.js'
import { syncDir } from '../atomic-file.js'
import { CommandError } from '../errors.js'
import { Progress } from '../progress.js'

export interface BackupOptions {
  force?: boolean
}

/** How long murmurd may take to copy the database (the reads that follow each have --timeout). */
const COPY_TIMEOUT_MS = 30 * 60_000
const CHUNK_BYTES = 1024 * 1024 < MAX_BACKUP_CHUNK_BYTES ? 1024 * 1024 : MAX_BACKUP_CHUNK_BYTES

export async function backup (ctx: CommandContext, file: string, opts: BackupOptions): Promise<void> {
  const path = resolve(file)
  const part = `${path}.part`
  let fd: number | undefined
  // Ctrl-C or a SIGTERM removes our .part (never another backup's), then ends murmurctl as the signal would have
  const interrupted = (signal: NodeJS.Signals): void => {
    if (fd !== undefined) rmSync(part, { force: true })
    process.kill(process.pid, signal)
  }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  let open = false
  let done = false
  try {
    const out = openNew(part, path, opts.force === true)
    fd = out
    open = true
    const result = await withSession(ctx, async session => {
      const made = await session.call('node_backup', {}, COPY_TIMEOUT_MS)
      const progress = new Progress(ctx.io.stderr, `backup ${basename(path)}`, made.bytes)
      const hash = createHash('sha256')
      let offset = 0
      while (offset < made.bytes) {
        const { data } = await session.call('node_backup_read', { id: made.id, offset, length: Math.min(CHUNK_BYTES, made.bytes - offset) })
        const bytes = Buffer.from(data, 'base64')
        if (bytes.length === 0) throw new CommandError(`murmurd sent ${offset} of the backup's ${made.bytes} bytes and then nothing; ${path} was not written`)
        writeSync(out, bytes)
        hash.update(bytes)
        offset += bytes.length
        progress.update(offset)
      }
      progress.finish()
      await session.call('node_backup_end', { id: made.id })
      const sha256 = hash.digest('hex')
      if (offset !== made.bytes || sha256 !== made.sha256) throw new CommandError(`the backup read back does not match what murmurd made (${offset} of ${made.bytes} bytes, sha256 ${sha256} vs ${made.sha256}); ${path} was not written`)
      return { file: path, bytes: made.bytes, sha256 }
    })
    fsyncSync(out)
    closeSync(out)
    open = false
    try {
      renameSync(part, path)
    } catch (err) {
      throw new CommandError(`cannot write ${path}: ${reason(err)}; nothing was written`)
    }
    done = true
    syncDir(dirname(path))
    emit(ctx, result, r => `OK backup of ${r.bytes} bytes written to ${r.file} (sha256 ${r.sha256}); restore: copy it to <data-dir>/murmur.db of a stopped node (see README)`)
  } finally {
    process.off('SIGINT', interrupted)
    process.off('SIGTERM', interrupted)
    if (!done && fd !== undefined) {
      if (open) closeSync(fd)
      rmSync(part, { force: true })
    }
  }
}

/** Opens `part` for writing, new; refuses when `path` exists (unless `force`) or `part` does (another backup running). */
function openNew (part: string, path: string, force: boolean): number {
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory() === true) throw new CommandError(`${path} is a directory; give the backup a file name`)
  if (!force && existsSync(path)) throw new CommandError(`${path} already exists; choose another file, or pass --force to replace it`)
  try {
    return openSync(part, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CommandError(`${part} exists: another backup to ${path} is running, or one was cut off (remove the .part file)`)
    throw new CommandError(`cannot create ${part}: ${reason(err)}`)
  }
}

function reason (err: unknown): string {
  return (err as Error).message.replace(/, \w+ '.*'$/, '')
}
