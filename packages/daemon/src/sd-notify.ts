/**
 * systemd's readiness protocol (`Type=notify`): when the service manager set
 * `NOTIFY_SOCKET`, murmurd says `READY=1` once its socket answers and
 * `STOPPING=1` when it begins to stop. Node cannot write a Unix datagram
 * without a native module, so systemd-notify(1) sends it; that is a child
 * process, so the unit needs `NotifyAccess=all` (scripts/systemd). Without
 * `NOTIFY_SOCKET` nothing happens.
 */
import type { Logger } from 'pino'

/**
 * Sends `assignments` (e.g. `READY=1`, `STATUS=…`); resolves when
 * systemd-notify exits, never rejects. `wait`: systemd-notify waits (up to
 * 5 s) until the manager has read the message, so it is still alive when the
 * manager looks up which unit sent it; without, a lost message is harmless.
 */
export async function sdNotify (assignments: string[], env: Record<string, string | undefined>, log: Logger, wait = true): Promise<void> {
  const socket = env.NOTIFY_SOCKET
  if (socket == null || socket === '') return
  // loaded only here: without systemd, node:child_process (and what it loads) would sit in every node's memory for nothing
  const { execFile } = await import('node:child_process')
  await new Promise<void>(resolve => {
    execFile('systemd-notify', wait ? assignments : ['--no-block', ...assignments], { env: { ...process.env, NOTIFY_SOCKET: socket }, timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err != null) log.warn({ err: (err as Error).message, stderr: stderr.trim() }, `could not tell systemd ${assignments[0] ?? ''} (is systemd-notify installed?)`)
      resolve()
    })
  })
}
