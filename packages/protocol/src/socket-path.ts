/**
 * Where a daemon's socket lives, and how a client finds it.
 *
 * Each daemon keeps its socket inside its data dir (`<data-dir>/murmurd.sock`),
 * so the data dir's 0700 mode guards it. A client looks, in order, at
 * `--socket`, `--data-dir` and `--name`, then the same as environment
 * variables (`MURMUR_SOCKET`, `MURMUR_DATA_DIR`, `MURMUR_NAME`), and finally
 * for the single daemon under the default data root.
 */
import { existsSync, readdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { MAX_SOCKET_PATH_BYTES } from './limits.js'

export const SOCKET_FILE = 'murmurd.sock'

export type Env = Record<string, string | undefined>

export class SocketPathError extends Error {
  static override name = 'SocketPathError'
  override name = 'SocketPathError'
}

/** `$XDG_DATA_HOME/murmur`, or `~/.local/share/murmur`. */
export function defaultDataRoot (env: Env = process.env): string {
  const xdg = env.XDG_DATA_HOME
  const base = xdg != null && xdg !== '' ? xdg : join(env.HOME ?? homedir(), '.local', 'share')
  return join(base, 'murmur')
}

/** The data dir a daemon named `name` uses when `--data-dir` is not given. */
export function defaultDataDir (name: string, env: Env = process.env): string {
  return join(defaultDataRoot(env), name)
}

export function socketPathForDataDir (dataDir: string): string {
  return join(resolve(dataDir), SOCKET_FILE)
}

/** Throws when the path cannot be bound as a Unix socket on Linux. */
export function checkSocketPath (path: string): string {
  const bytes = Buffer.byteLength(path)
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new SocketPathError(`socket path is ${bytes} bytes, over the ${MAX_SOCKET_PATH_BYTES}-byte limit for Unix sockets: ${path} (choose a shorter --socket or --data-dir)`)
  }
  return path
}

export interface SocketLocator {
  socket?: string
  dataDir?: string
  name?: string
}

export interface ResolvedSocket {
  path: string
  /** How the path was found, for error messages: "--socket", "MURMUR_NAME", "default"… */
  via: string
}

/** Finds a client's daemon socket (see the module comment for the order). */
export function resolveSocketPath (flags: SocketLocator, env: Env = process.env): ResolvedSocket {
  const candidates: Array<[string, string | undefined, (v: string) => string]> = [
    ['--socket', flags.socket, v => resolve(v)],
    ['--data-dir', flags.dataDir, socketPathForDataDir],
    ['--name', flags.name, v => socketPathForDataDir(defaultDataDir(v, env))],
    ['MURMUR_SOCKET', env.MURMUR_SOCKET, v => resolve(v)],
    ['MURMUR_DATA_DIR', env.MURMUR_DATA_DIR, socketPathForDataDir],
    ['MURMUR_NAME', env.MURMUR_NAME, v => socketPathForDataDir(defaultDataDir(v, env))]
  ]
  for (const [via, value, toPath] of candidates) {
    if (value != null && value !== '') return { path: toPath(value), via }
  }
  return findSingleDaemon(env)
}

function findSingleDaemon (env: Env): ResolvedSocket {
  const root = defaultDataRoot(env)
  const names = listDir(root).filter(name => existsSync(join(root, name, SOCKET_FILE)))
  if (names.length === 1) {
    return { path: join(root, names[0] as string, SOCKET_FILE), via: 'default' }
  }
  if (names.length > 1) {
    throw new SocketPathError(`several murmurd daemons run under ${root} (${names.join(', ')}): pick one with --name`)
  }
  return { path: join(root, '<name>', SOCKET_FILE), via: 'default' }
}

function listDir (dir: string): string[] {
  try {
    return readdirSync(dir).sort()
  } catch {
    return []
  }
}
