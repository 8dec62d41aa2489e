/**
 * Following the keys under a prefix for as long as a command runs (template,
 * exec): `onKeys` gets every key under the prefix at start, again after each
 * burst of changes (debounced: `quietMs` without a change, or `maxWaitMs`
 * after the first), and again after murmurd comes back from a restart, so
 * nothing that changed meanwhile is missed. Calls never overlap.
 */
import { DEFAULT_LIST_LIMIT, type Entry } from '@murmur/protocol/client'
import { DaemonUnavailableError } from './errors.js'
import { EXACT, exactEntry } from './exact.js'
import { Session } from './session.js'
import type { CommandContext } from './context.js'

export interface FollowOptions {
  prefix: string
  /** Render once and return. */
  once?: boolean
  /** @default 250 */
  quietMs?: number
  /** @default 2000 */
  maxWaitMs?: number
  /** How long to wait between attempts to reach a missing murmurd. @default 1000 */
  retryMs?: number
  /** Stops following (SIGINT, SIGTERM, the child of `exec` exiting). */
  signal: AbortSignal
  /** A line for the user (stderr). */
  say: (text: string) => void
}

export async function followPrefix (ctx: CommandContext, options: FollowOptions, onKeys: (entries: Entry[]) => Promise<void>): Promise<void> {
  const { signal, say } = options
  let waiting = false
  while (!signal.aborted) {
    let session: Session
    try {
      session = await Session.open(ctx.session)
    } catch (err) {
      if (!(err instanceof DaemonUnavailableError) || options.once === true) throw err
      if (!waiting) say(`${err.message}; retrying every ${options.retryMs ?? 1000} ms`)
      waiting = true
      await sleep(options.retryMs ?? 1000, signal)
      continue
    }
    if (waiting) say(`reached murmurd at ${session.socket.path}`)
    waiting = false
    try {
      if (!await followOnce(session, options, onKeys)) return
      say(`murmurd at ${session.socket.path} went away; following again once it is back`)
    } catch (err) {
      // gone between connecting and the first render: the same as going away later
      if (!(err instanceof DaemonUnavailableError) || options.once === true) throw err
      say(`murmurd at ${session.socket.path} went away; following again once it is back`)
    } finally {
      session.close()
    }
  }
}

/** One connection's worth; false when following is over (once, or stopped), true when murmurd went away. */
async function followOnce (session: Session, options: FollowOptions, onKeys: (entries: Entry[]) => Promise<void>): Promise<boolean> {
  const { prefix, signal } = options
  let chain = Promise.resolve()
  let failed: unknown
  const run = (): void => {
    chain = chain.then(async () => { await onKeys(await listAll(session, prefix)) }).catch(err => { failed ??= err })
  }
  let timer: NodeJS.Timeout | undefined
  let firstAt = 0
  session.onChange(event => {
    if (!event.key.startsWith(prefix)) return
    const now = Date.now()
    if (timer === undefined) firstAt = now
    else clearTimeout(timer)
    const wait = Math.max(0, Math.min(options.quietMs ?? 250, firstAt + (options.maxWaitMs ?? 2000) - now))
    timer = setTimeout(() => { timer = undefined; run() }, wait)
  })
  // subscribe before listing: a change between the two is then seen twice, never missed
  await session.call('kv_subscribe', { prefix })
  // the first render goes on the chain too: a change during it waits for it
  run()
  await chain
  const first: unknown = failed
  if (first !== undefined) throw first
  if (options.once === true) return false
  try {
    await session.untilStopped(signal)
    return false
  } catch (err) {
    if (err instanceof DaemonUnavailableError) return true
    throw err
  } finally {
    clearTimeout(timer)
    await chain
    if (failed !== undefined && !(failed instanceof DaemonUnavailableError)) throw failed
  }
}

async function listAll (session: Session, prefix: string): Promise<Entry[]> {
  const all: Entry[] = []
  let after: string | undefined
  do {
    const page = await session.call('kv_list', { prefix, after, limit: DEFAULT_LIST_LIMIT, ...EXACT })
    all.push(...page.items.map(exactEntry))
    after = page.next
  } while (after != null)
  return all
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export async function sleep (ms: number, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done (): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}
