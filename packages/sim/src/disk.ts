/**
 * A simulated node's disk: its SQLite file in WAL mode (on tmpfs, with
 * checkpoints off), so a crash can keep the WAL only up to its length at the
 * last completed fsync, exactly what a power cut leaves; and a full disk,
 * during which every write fails (and rolls back its transaction).
 */
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SqliteStore } from '@murmur/core'

/** The store's writes, which fail while the disk is full. */
const WRITES = ['put', 'supersede', 'addHistory', 'remove', 'prove', 'dropHistory', 'setOrigin', 'setMeta', 'setClock', 'stage', 'clearStaged'] as const

export class SimDisk {
  /** Writes fail until this virtual time. */
  fullUntil = -Infinity
  private path: string
  private crashes = 0
  /** How much of the WAL the last completed fsync covered. */
  private durable = 0
  /** How far each fsync begun and not yet completed will reach (`begin`). */
  private running: number[] = []
  /** What waits for the WAL to be on disk up to a mark (`onDurable`). */
  private riders: Array<{ mark: number, fn: () => void, lost?: () => void }> = []
  private readonly dir: string
  private readonly name: string
  private readonly now: () => number

  constructor (dir: string, name: string, now: () => number) {
    this.dir = dir
    this.name = name
    this.now = now
    this.path = join(dir, `${name}-0.db`)
  }

  /** Opens the store as the disk holds it now. */
  open (): SqliteStore {
    const store = SqliteStore.open(this.path, { durability: 'normal', checkpoints: false })
    this.durable = this.walSize() // what a restart finds is on disk
    for (const name of WRITES) {
      const write = (store[name] as (...args: unknown[]) => unknown).bind(store)
      Object.assign(store, {
        [name]: (...args: unknown[]) => {
          if (this.now() < this.fullUntil) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })
          return write(...args)
        }
      })
    }
    return store
  }

  /** Where an fsync started now would reach. */
  mark (): number {
    return this.walSize()
  }

  /** An fsync begins now: where it will reach, to pass to `synced` when it completes. */
  begin (): number {
    const mark = this.walSize()
    this.running.push(mark)
    return mark
  }

  /** An fsync that started at `mark` completed: what waited for it runs, in the order it began waiting. */
  synced (mark: number): void {
    const at = this.running.indexOf(mark)
    if (at >= 0) this.running.splice(at, 1)
    this.durable = Math.max(this.durable, mark)
    const ready = this.riders.filter(r => r.mark <= this.durable)
    this.riders = this.riders.filter(r => r.mark > this.durable)
    for (const { fn } of ready) fn()
  }

  /** Whether the WAL is on disk up to `mark`, or an fsync begun that will put it there runs. */
  covered (mark: number): { durable: boolean, coming: boolean } {
    return { durable: this.durable >= mark, coming: this.running.some(m => m >= mark) }
  }

  /** Runs `fn` once the WAL is on disk up to `mark` (at once if it is); a crash or stop drops it (`forget`), and a crash calls `lost`. */
  onDurable (mark: number, fn: () => void, lost?: () => void): void {
    if (this.durable >= mark) fn()
    else this.riders.push({ mark, fn, lost })
  }

  /** The node went down: fsyncs under way never complete, and nothing waits for them (`crashed`: what they covered is gone). */
  forget (crashed = false): void {
    const dropped = this.riders
    this.running = []
    this.riders = []
    if (crashed) for (const rider of dropped) rider.lost?.()
  }

  /** A power cut: `store` closes, and the disk keeps the database file and the WAL as far as the last fsync reached. */
  crash (store: SqliteStore): void {
    this.forget(true)
    const next = join(this.dir, `${this.name}-${++this.crashes}.db`)
    copyFileSync(this.path, next)
    writeFileSync(`${next}-wal`, existsSync(`${this.path}-wal`) ? readFileSync(`${this.path}-wal`).subarray(0, this.durable) : new Uint8Array(0))
    store.close()
    for (const file of [this.path, `${this.path}-wal`, `${this.path}-shm`]) rmSync(file, { force: true })
    this.path = next
  }

  private walSize (): number {
    try {
      return statSync(`${this.path}-wal`).size
    } catch {
      return 0
    }
  }
}
