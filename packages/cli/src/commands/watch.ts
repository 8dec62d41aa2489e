/**
 * `murmurctl watch`: prints changes under one or more prefixes until
 * SIGINT/SIGTERM. It subscribes with a cursor (`--since`, else from now) and
 * remembers the cursor of every event; when murmurd goes away it says so on
 * stderr, tries again with backoff, and resumes after the last cursor it saw,
 * so a restart of murmurd loses no change and repeats none. When the changes
 * it needs are gone, murmurd sends the current state instead (`snapshot`).
 */
import { DaemonUnavailableError } from '../errors.js'
import { EXACT, exactEvent } from '../exact.js'
import { sleep } from '../follow.js'
import { formatChange, formatEntryLine } from '../format.js'
import { printLine } from '../io.js'
import { Session } from '../session.js'
import type { CommandContext } from '../context.js'
import { stringifyExact, type WatchEvent } from '@murmur/protocol/client'

export interface WatchOptions {
  /** Repeatable: changes under any of them. */
  prefix?: string[]
  /** Replay what changed after this cursor first. */
  since?: number
}

/** The first wait before trying murmurd again, and the longest. */
const FIRST_RETRY_MS = 100
const MAX_RETRY_MS = 2000

/**
 * Prints changes until SIGINT/SIGTERM or `ctx.signal` (exit 0). A murmurd
 * that cannot be reached at the start is an error (exit 3); one that goes
 * away later is waited for.
 */
export async function watch (ctx: CommandContext, opts: WatchOptions): Promise<void> {
  const stop = stopOnProcessSignals()
  const signal = AbortSignal.any([ctx.signal, stop.signal])
  const say = (line: string): void => { ctx.io.stderr.write(`murmurctl watch: ${line}\n`) }
  let since: number | 'now' = opts.since ?? 'now'
  const print = (read: WatchEvent): void => {
    const event = exactEvent(read)
    // a snapshot's cursor holds once its last page is in: cut short, it is sent again whole
    if ('cursor' in event && event.cursor !== undefined && (event.type !== 'snapshot' || event.last)) since = event.cursor
    if (ctx.json) printLine(ctx.io.stdout, stringifyExact(event))
    else if (event.type === 'snapshot') for (const entry of event.entries) printLine(ctx.io.stdout, `snapshot ${formatEntryLine(entry)}`)
    else if (event.type !== 'ready') printLine(ctx.io.stdout, formatChange(event))
  }
  try {
    let session: Session | undefined = await Session.open(ctx.session)
    let retryMs = FIRST_RETRY_MS
    while (!signal.aborted) {
      if (session === undefined) {
        try {
          session = await Session.open(ctx.session)
          say(`reached murmurd at ${session.socket.path}; resuming after cursor ${since}`)
        } catch (err) {
          if (!(err instanceof DaemonUnavailableError)) throw err
          await sleep(retryMs, signal)
          retryMs = Math.min(retryMs * 2, MAX_RETRY_MS)
          continue
        }
      }
      try {
        session.onWatch(print)
        await session.call('kv_subscribe', { prefixes: opts.prefix ?? [], since, ...EXACT })
        retryMs = FIRST_RETRY_MS
        await session.untilStopped(signal)
      } catch (err) {
        if (!(err instanceof DaemonUnavailableError)) throw err
        say(`murmurd at ${session.socket.path} went away; trying again with backoff (up to every ${MAX_RETRY_MS} ms)`)
      } finally {
        session.close()
        session = undefined
      }
    }
  } finally {
    stop.dispose()
  }
}

/**
 * Aborts on the first SIGINT or SIGTERM. The handlers are then removed, so a
 * second signal gets Node's default handling and ends the process at once.
 */
export function stopOnProcessSignals (): { signal: AbortSignal, dispose: () => void } {
  const controller = new AbortController()
  const onSignal = (): void => {
    dispose()
    controller.abort()
  }
  const dispose = (): void => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  return { signal: controller.signal, dispose }
}
