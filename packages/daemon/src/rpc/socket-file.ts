/**
 * Where the socket file may live. It is bound 0600, and its directory must be
 * one no other user can write: otherwise they could put their own socket at
 * the path while murmurd is down and read whatever murmurctl sends to it.
 */
import { lstatSync, mkdirSync, readlinkSync, rmSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { dirname } from 'node:path'
import { SocketInUseError, UnsafeSocketPathError } from '../errors.js'

/** Makes `path` ready to bind: a safe directory, and no stale socket in the way. */
export async function prepareSocketPath (path: string): Promise<void> {
  checkSocketDir(dirname(path))
  await removeStaleSocket(path)
}

/** Creates a missing directory 0700; refuses one that another user owns or can write. */
function checkSocketDir (dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const stat = statSync(dir)
  const uid = process.getuid?.()
  if (uid != null && stat.uid !== uid && stat.uid !== 0) {
    throw new UnsafeSocketPathError(`socket directory ${dir} belongs to another user (uid ${stat.uid}); choose a --socket in a directory you own (the data dir is the default)`)
  }
  if ((stat.mode & 0o022) !== 0) {
    throw new UnsafeSocketPathError(`socket directory ${dir} is writable by other users (mode ${(stat.mode & 0o7777).toString(8)}), who could replace the socket; ` +
      `choose a --socket in a directory only you can write (the data dir is the default), or run chmod go-w ${dir}`)
  }
}

/**
 * A socket file left by a crashed daemon is removed; a live one (something
 * answers on it) is not. A path that exists but is not a socket is refused,
 * so we never delete a user's file or follow a planted symlink.
 */
async function removeStaleSocket (path: string): Promise<void> {
  let stat
  try {
    stat = lstatSync(path)
  } catch {
    return
  }
  if (stat.isSymbolicLink()) {
    throw new UnsafeSocketPathError(`${path} is a symbolic link (to ${readlinkSync(path)}); murmurd never follows one for its socket: remove it or choose another --socket`)
  }
  if (!stat.isSocket()) throw new SocketInUseError(`${path} exists and is not a socket; remove it or choose another --socket`)
  const live = await new Promise<boolean>(resolve => {
    const probe = connect(path)
    probe.once('connect', () => { probe.destroy(); resolve(true) })
    probe.once('error', () => { resolve(false) })
  })
  if (live) throw new SocketInUseError(`another murmurd is listening on ${path}`)
  rmSync(path, { force: true })
}
