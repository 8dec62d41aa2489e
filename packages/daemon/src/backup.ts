/**
 * Backups of a running node's database, and what a node does when it finds it
 * runs on one.
 *
 * A backup is a consistent, self-contained copy of murmur.db (SQLite's online
 * backup) marked with the peer ID of the node it was taken from. A node that
 * opens a database so marked, with an identity it already had, runs on a
 * restored backup: its peers may already hold ops it wrote after the backup,
 * under sequence numbers it would now hand out again, and two ops under one
 * number is equivocation. That holds whether the mark names its identity or
 * not: a backup taken before an earlier restore gave it the identity it has
 * now holds none of that identity's ops. So it takes a new identity (keeping
 * the old key as peer.key.before-restore) and writes under it from then on;
 * everything the database holds, its own old ops included, stays, and what
 * peers hold beyond the backup arrives by sync. A backup restored into a
 * fresh data dir gets a fresh identity anyway, which has written nothing.
 */
import { createHash } from 'node:crypto'
import { createReadStream, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { replaceIdentity } from './identity.js'
import { isoTime } from './iso-time.js'
import type { PrivateKey } from '@libp2p/interface'
import type { SqliteStore } from '@murmur/core'
import type { Logger } from 'pino'

/** The meta row naming the node a backup was taken from; emptied once a restored node has dealt with it. */
export const BACKUP_OF = 'backup_of'
/** Where the daemon puts backups it streams to murmurctl (removed when the RPC connection closes). */
export const BACKUP_DIR = 'backups'

export interface BackupInfo {
  path: string
  bytes: number
  /** SHA-256 of the file, hex. */
  sha256: string
  pages: number
}

/** Writes a backup of `store`, taken on the node `origin`, to `path` (a new file). */
export async function writeBackup (store: SqliteStore, path: string, origin: string, progress?: (done: number, total: number) => void): Promise<BackupInfo> {
  // SQLite's backup would write over whatever is there
  if (existsSync(path)) throw new Error(`${path} already exists; a backup is written to a new file`)
  const pages = await store.backup(path, { [BACKUP_OF]: origin, backup_at: isoTime(Date.now()) }, progress)
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return { path, bytes: statSync(path).size, sha256: hash.digest('hex'), pages }
}

/** `<data-dir>/backups`, made (0700) if missing. */
export function backupDir (dataDir: string): string {
  const dir = join(dataDir, BACKUP_DIR)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  return dir
}

/** Removes backups a previous run left behind (it stopped while streaming one). */
export function clearBackups (dataDir: string): void {
  const dir = join(dataDir, BACKUP_DIR)
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return
  }
  // with the journal files SQLite keeps beside one it was writing when the run was killed
  for (const name of names) if (/\.db(-wal|-shm|-journal)?$/.test(name)) rmSync(join(dir, name), { force: true })
}

/**
 * The identity to run with on `store`: `privateKey`, unless the database is a
 * restored backup and `privateKey` was not `created` on this start, in which
 * case a new one (see above).
 */
export async function identityForStore (store: SqliteStore, dataDir: string, privateKey: PrivateKey, log: Logger, created: boolean): Promise<PrivateKey> {
  const from = store.meta(BACKUP_OF)
  if (from == null || from === '') return privateKey
  let key = privateKey
  const old = peerIdFromPrivateKey(privateKey).toString()
  if (!created) {
    key = await replaceIdentity(dataDir)
    log.warn({ old, new: peerIdFromPrivateKey(key).toString(), takenOn: from, takenAt: store.meta('backup_at') },
      `this database is a restored backup${from === old ? ' of this node' : ''}: it now writes under a new peer ID, so it never reuses a sequence number its peers may hold (the old key is in peer.key.before-restore)`)
  }
  // the original numbered its changes on after the copy: no watcher resumes here from its cursors
  store.restartChanges()
  // once the key is on disk: a crash before this line takes yet another identity next time (this one wrote nothing)
  store.setMeta(BACKUP_OF, '')
  return key
}
