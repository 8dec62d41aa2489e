import { withSession, type CommandContext } from '../context.js'
import { formatChange } from '../format.js'
import { printLine } from '../io.js'

export interface WatchOptions {
  prefix?: string
}

/**
 * Prints changes until SIGINT/SIGTERM or `ctx.signal` (exit 0), or until the
 * daemon closes the connection (DaemonUnavailableError, exit 3).
 */
export async function watch (ctx: CommandContext, opts: WatchOptions): Promise<void> {
  const stop = stopOnProcessSignals()
  try {
    await withSession(ctx, async session => {
      session.onChange(event => printLine(ctx.io.stdout, ctx.json ? JSON.stringify(event) : formatChange(event)))
      await session.call('kv_subscribe', { prefix: opts.prefix })
      await session.untilStopped(AbortSignal.any([ctx.signal, stop.signal]))
    })
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
