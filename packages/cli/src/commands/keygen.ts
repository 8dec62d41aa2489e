/**
 * `murmurctl keygen [file]`: a new swarm key for a closed group. It is made
 * here with node:crypto in the standard format (`@murmur/protocol`), so
 * murmurctl still never loads libp2p.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, fchmodSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs'
import { resolve } from 'node:path'
import { formatSwarmKey, SWARM_KEY_BYTES } from '@murmur/protocol/client'
import { emit, type CommandContext } from '../context.js'
import { KeyFileError } from '../errors.js'

/** Writes a new key to `file` (mode 0600, never over an existing file), or to stdout for `-` or no file. */
export function keygen (ctx: CommandContext, file?: string): void {
  const key = formatSwarmKey(randomBytes(SWARM_KEY_BYTES))
  if (file == null || file === '-') {
    ctx.io.stdout.write(key)
    return
  }
  const path = resolve(file)
  writeNewFile(path, key)
  emit(ctx, { file: path }, () => `OK swarm key written to ${path}; copy it to every member and start each with: murmurd --swarm-key ${path} …`)
}

function writeNewFile (path: string, text: string): void {
  let fd: number
  try {
    // 'wx': replacing a group's key by accident would lock this node out of its group
    fd = openSync(path, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyFileError(`${path} already exists; keygen never overwrites a key file (remove it first, or choose another file)`)
    throw new KeyFileError(`cannot create ${path}: ${reason(err)}`)
  }
  try {
    fchmodSync(fd, 0o600) // whatever the umask
    writeSync(fd, text)
    fsyncSync(fd)
  } catch (err) {
    rmSync(path, { force: true })
    throw new KeyFileError(`cannot write ${path}: ${reason(err)}`)
  } finally {
    closeSync(fd)
  }
}

/** "ENOENT: no such file or directory", without the path repeated. */
function reason (err: unknown): string {
  return (err as Error).message.replace(/, \w+ '.*'$/, '')
}
