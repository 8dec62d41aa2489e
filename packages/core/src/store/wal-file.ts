/**
 * The WAL file of a store that acknowledges before its commits are on disk
 * ('group' and 'normal' durability): one fsync of it puts every commit so far
 * on disk.
 */
import { closeSync, fsync, fsyncSync, openSync } from 'node:fs'

export class WalFile {
  private constructor (private readonly fd: number) {}

  /** Opens `<dbPath>-wal`, which must exist (SQLite resets and truncates it in place, never replaces it while open). */
  static open (dbPath: string): WalFile {
    return new WalFile(openSync(`${dbPath}-wal`, 'r+'))
  }

  /** An fsync on libuv's thread pool, so the event loop goes on meanwhile. */
  async sync (): Promise<void> {
    await new Promise<void>((resolve, reject) => { fsync(this.fd, err => { if (err != null) reject(err); else resolve() }) })
  }

  /** The same on this thread: no hand-off to the thread pool and back. */
  syncNow (): void {
    fsyncSync(this.fd)
  }

  close (): void {
    closeSync(this.fd)
  }
}
