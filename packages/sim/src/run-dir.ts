/**
 * Where a run keeps its nodes' SQLite files: a directory in /dev/shm (RAM)
 * when there is one, named for this process, removed when the run ends. A
 * run killed (a hunt or a CI clone stopped mid-run) left its directory, up
 * to ~280 MB of RAM each, until the machine restarted: ten of them held
 * 595 MB. Each run now first removes those of processes no longer alive.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const PREFIX = 'murmur-sim-'

/** A new directory for one run, under `base`, after those runs of processes gone left behind are removed. */
export function runDir (base: string = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()): string {
  sweep(base)
  return mkdtempSync(join(base, `${PREFIX}${process.pid}-`))
}

/** Removes the run directories under `base` whose process is gone; returns their names. A name without a process (an older simulator's) is left. */
export function sweep (base: string): string[] {
  const removed: string[] = []
  for (const name of readdirSync(base)) {
    const pid = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)?.[1]
    if (pid === undefined || Number(pid) === process.pid || alive(Number(pid))) continue
    rmSync(join(base, name), { recursive: true, force: true })
    removed.push(name)
  }
  return removed
}

/** Whether process `pid` runs: it takes signals and is not a zombie (killed, not yet reaped: a killed hunt's, reparented to an init that reaps late). */
function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    // EPERM: it runs, as another user
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    // /proc/<pid>/stat: "pid (name) state …", the name may hold spaces and parentheses
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}
