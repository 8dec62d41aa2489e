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

/**
 * Sends `signal` to the child's group, then SIGKILL `killMs` later should the
 * child not have exited: a command that ignores or outlasts the signal must
 * not hold murmurctl (its next render, its own stop) forever. `onKill` is
 * called just before the SIGKILL, to say so.
 */
export function stopGroup (child: ChildProcess, signal: NodeJS.Signals, killMs: number, onKill: () => void): void {
  if (child.exitCode != null || child.signalCode != null) return // its PID may be another's by now
  signalGroup(child, signal)
  const timer = setTimeout(() => {
    onKill()
    signalGroup(child, 'SIGKILL')
  }, killMs)
  child.once('exit', () => { clearTimeout(timer) })
}
