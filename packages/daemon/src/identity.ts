/**
 * The node's libp2p identity, kept in `<data-dir>/peer.key` so the peer ID
 * survives restarts. A key file that exists but cannot be read or parsed is an
 * error: silently making a new identity would fork the node's history.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { IdentityError } from './errors.js'
import type { PrivateKey } from '@libp2p/interface'

export const KEY_FILE = 'peer.key'

export async function loadOrCreateIdentity (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, KEY_FILE)
  let bytes: Buffer
  try {
    bytes = readFileSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new IdentityError(`cannot read identity key ${path}: ${(err as Error).message}`)
    }
    const key = await generateKeyPair('Ed25519')
    // 'wx' fails rather than overwrite a key another process wrote meanwhile
    writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
    return key
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new IdentityError(`identity key ${path} is corrupt (${(err as Error).message}); restore it from a backup, or move it away to start as a new node`)
  }
}

/**
 * Puts a new identity key in place of the current one, which is kept as
 * `peer.key.before-restore`; each step leaves either key in place, or none
 * (then the next start makes a new one), never a half-written file.
 */
export async function replaceIdentity (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, KEY_FILE)
  const key = await generateKeyPair('Ed25519')
  const fresh = `${path}.new`
  writeFileSync(fresh, privateKeyToProtobuf(key), { mode: 0o600 })
  syncPath(fresh)
  renameSync(path, `${path}.before-restore`)
  renameSync(fresh, path)
  syncPath(dataDir)
  return key
}

function syncPath (path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
