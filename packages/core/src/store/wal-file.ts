/**
 * The WAL file of a store that acknowledges before its commits are on disk
 * ('group' and 'normal' durability): one fsync of it puts every commit so far
 * on disk.
 *
 * A write that must reach the disk soon, but not at once, can ride on the
 * next fsync someone else begins: `mark()` after the write, then
 * `syncedAfter(mark, waitMs)`. Any fsync begun after the mark covers it (the
 * write is in the file by then), and the disk serves one flush at a time, so
 * a flush of its own right before a writer's would make that writer wait for
 * two.
 *
 * Once an fsync has failed, every later one fails with it (`failure`): Linux
 * may drop the pages it could not write and mark them clean, so a later fsync
 * that succeeds says nothing of them, and a WAL with a hole loses, at the next
 * open, every commit after the hole. Nothing written after a failed fsync can
 * be known to be on disk until the store is opened again.
 */
import { closeSync, fsync, fsyncSync, openSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

export class WalFile {
  /** Fsyncs begun so far (`sync`, `syncNow`); each is numbered by this count as it begins. */
  private begun = 0
  /** The highest number of an fsync that has completed. */
  private completed = 0
  /** Numbers of fsyncs begun and not yet settled. */
  private readonly running = new Set<number>()
  /** `syncedAfter` callers to wake when an fsync begins or settles. */
  private waiters: Array<() => void> = []
  /** Closed (the store closed): fsyncs fail at once, and never touch a descriptor number that may be reused. */
  private closed = false
  /** The first fsync that failed, if one has. */
  private failed?: Error

  private constructor (private readonly fd: number) {}

  /** Opens `<dbPath>-wal`, which must exist (SQLite resets and truncates it in place, never replaces it while open). */
  static open (dbPath: string): WalFile {
    return new WalFile(openSync(`${dbPath}-wal`, 'r+'))
  }

  /** Fsyncs begun so far. */
  get syncs (): number {
    return this.begun
  }

  /** Why no fsync can succeed any more (one failed), if so. */
  get failure (): Error | undefined {
    return this.failed
  }

  /** An fsync on libuv's thread pool, so the event loop goes on meanwhile. */
  async sync (): Promise<void> {
    this.open()
    const id = this.begin()
    try {
      await new Promise<void>((resolve, reject) => { fsync(this.fd, err => { if (err != null) reject(this.fail(err)); else resolve() }) })
      this.completed = Math.max(this.completed, id)
    } finally {
      this.settle(id)
    }
  }

  /** The same on this thread: no hand-off to the thread pool and back. */
  syncNow (): void {
    this.open()
    const id = this.begin()
    try {
      try {
        fsyncSync(this.fd)
      } catch (err) {
        throw this.fail(err as Error)
      }
      this.completed = Math.max(this.completed, id)
    } finally {
      this.settle(id)
    }
  }

  /** What `syncedAfter` takes: an fsync begun after this call covers every write made before it. */
  mark (): number {
    return this.begun
  }

  /**
   * Resolves once an fsync begun after `mark` has completed: at once if one
   * has, when it completes if one runs, else with the next one anyone begins
   * within `waitMs`; past that, this begins one (and rejects if it fails).
   */
  async syncedAfter (mark: number, waitMs: number): Promise<void> {
    const deadline = performance.now() + waitMs
    while (this.completed <= mark) {
      const covering = [...this.running].some(id => id > mark)
      const left = deadline - performance.now()
      if (!covering && left <= 0) {
        await this.sync()
        return
      }
      await new Promise<void>(resolve => {
        const timer = covering ? undefined : setTimeout(resolve, Math.ceil(left))
        this.waiters.push(() => { clearTimeout(timer); resolve() })
      })
    }
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    closeSync(this.fd)
    this.wake()
  }

  private open (): void {
    if (this.closed) throw new Error('the store is closed: its WAL can no longer be fsynced')
    const failed = this.failed
    if (failed !== undefined) {
      throw Object.assign(new Error(`an earlier fsync of the WAL failed (${failed.message}), so nothing written since is known to be on disk; restart murmurd: it opens what the disk holds`), { code: (failed as NodeJS.ErrnoException).code })
    }
  }

  private fail (err: Error): Error {
    this.failed ??= err
    return err
  }

  private begin (): number {
    const id = ++this.begun
    this.running.add(id)
    this.wake()
    return id
  }

  private settle (id: number): void {
    this.running.delete(id)
    this.wake()
  }

  private wake (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }
}
