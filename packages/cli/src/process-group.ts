/**
 * Signals for a command murmurctl runs (template's `--exec`, exec's command).
 * Such a command is spawned `detached`, so it leads a process group of its
 * own, and is signalled through that group: signalling its PID alone reaches
 * only the shell (or whatever it is), and its children (`sh -c 'a & b'`, a
 * server's workers) would outlive the stop they were meant to share.
 */
import type { ChildProcess } from 'node:child_process'

export function signalGroup (child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return // it never started
  try {
    process.kill(-child.pid, signal)
  } catch {} // the whole group is gone already
}
