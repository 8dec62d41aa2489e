/**
 * node_backup, node_backup_read, node_backup_end: murmurctl backup reads a
 * consistent copy of the database through the socket, so it works whatever
 * the daemon may write to (a systemd sandbox, another user). The copy lives in
 * `<data-dir>/backups` only while the connection that made it is open.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, openSync, readSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { InvalidRequestCode, MurmurRpcError, rpcError } from '@murmur/protocol'
import { backupDir } from '../backup.js'
import type { Murmur } from '../murmur.js'
import type { Connection, Handlers } from './handlers.js'

type BackupHandlers = Pick<Handlers, 'node_backup' | 'node_backup_read' | 'node_backup_end'>

export function backupHandlers (node: Murmur): BackupHandlers {
  const held = (id: string, connection: Connection): string => {
    const path = connection.backups?.get(id)
    if (path == null) throw rpcError('InvalidParams', `no backup ${id} on this connection: a backup is read on the connection that made it, until node_backup_end or the connection closes`)
    return path
  }
  return {
    node_backup: async (_params, connection) => {
      if ((connection.backups?.size ?? 0) > 0) {
        throw new MurmurRpcError(InvalidRequestCode, 'a backup is already open on this connection; read it and call node_backup_end first', { name: 'TooBusyError' })
      }
      const id = randomBytes(8).toString('hex')
      const path = join(backupDir(node.dataDir), `${id}.db`)
      const backups = connection.backups ??= new Map()
      backups.set(id, path) // from now on a closing connection removes the file
      try {
        const { bytes, sha256 } = await node.backup(path)
        return { id, bytes, sha256 }
      } catch (err) {
        endBackup(connection, id)
        throw rpcError('Storage', `backup failed: ${(err as Error).message}`)
      }
    },
    node_backup_read: ({ id, offset, length }, connection) => {
      const fd = openSync(held(id, connection), 'r')
      try {
        const buffer = Buffer.allocUnsafe(length)
        const read = readSync(fd, buffer, 0, length, offset)
        return { data: buffer.subarray(0, read).toString('base64') }
      } finally {
        closeSync(fd)
      }
    },
    node_backup_end: ({ id }, connection) => {
      held(id, connection)
      endBackup(connection, id)
      return true
    }
  }
}

/** Removes one backup of `connection`'s (every one when `id` is undefined). */
export function endBackup (connection: Connection, id?: string): void {
  for (const [name, path] of connection.backups ?? []) {
    if (id !== undefined && name !== id) continue
    rmSync(path, { force: true })
    connection.backups?.delete(name)
  }
}
