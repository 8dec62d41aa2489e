/**
 * Change cursors across a power loss. A peer's change is told to watchers at
 * its commit, and its fsync follows within about 25 ms (remote-sync.ts): a
 * power loss in between takes those changes back, and the node, restarted,
 * would give their cursors to its next changes, so a watcher resuming from a
 * cursor it was told would miss the changes numbered at or below it. A
 * `kill -9` loses nothing (the write-ahead log is in the page cache), and
 * numbering anew after one would send every resuming watcher to a snapshot
 * for nothing. So the store notes the boot of the machine whose run has it
 * open (`OPEN_BOOT`, cleared as the node stops); found open by a run of
 * another boot (the machine went down under it), the node numbers its
 * changes anew above every cursor given, as for a restored copy (see core's
 * `ChangeCursors.restart`): a watcher resuming from any cursor of before
 * gets the current state as a snapshot.
 */
import { readFileSync } from 'node:fs'
import { uptime } from 'node:os'
import type { SqliteStore } from '@murmur/core'

/** The `meta` entry: the boot of the run that has the store open; empty once it stopped. */
export const OPEN_BOOT = 'open_boot'

/**
 * This boot of the machine: Linux's boot ID, else the minute it booted (from
 * the clock and the uptime: a clock step may make one boot look like two,
 * which costs a snapshot, never a missed change).
 */
export function currentBoot (): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return `booted ${Math.round((Date.now() - uptime() * 1000) / 60_000)}`
  }
}

/**
 * Notes, in `store`'s next commit, that a run of `boot` has it open; first,
 * when a run of another boot had it open and never stopped, numbers its
 * changes anew. Returns whether it did. The caller fsyncs before serving.
 */
export function openInBoot (store: SqliteStore, boot = currentBoot()): boolean {
  const left = store.meta(OPEN_BOOT)
  const wentDown = left !== undefined && left !== '' && left !== boot
  if (wentDown) store.restartChanges()
  store.setMeta(OPEN_BOOT, boot)
  return wentDown
}

/** The node stops: whatever it told is on disk once the store closes. */
export function stoppedInBoot (store: SqliteStore): void {
  store.setMeta(OPEN_BOOT, '')
}
