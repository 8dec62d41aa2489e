import { DEFAULT_LIST_LIMIT, stringifyExact, type Entry } from '@murmur/protocol/client'
import { withSession, type CommandContext } from '../context.js'
import { EXACT, exactEntry } from '../exact.js'
import { formatEntryLine } from '../format.js'
import type { Session } from '../session.js'

export interface ListOptions {
  prefix?: string
  /** The most entries to print, over all pages. */
  limit?: number
}

/** Prints entries as pages arrive, so a large store does not have to fit in memory. */
export async function list (ctx: CommandContext, opts: ListOptions): Promise<void> {
  await withSession(ctx, async session => {
    const out = ctx.json ? jsonArray(ctx.io.stdout) : lines(ctx.io.stdout)
    for await (const entry of entries(session, opts, ctx.signal)) out.item(entry)
    out.end()
  })
}

export async function * entries (session: Session, { prefix, limit = Infinity }: ListOptions, signal: AbortSignal): AsyncGenerator<Entry> {
  let after: string | undefined
  let remaining = limit
  do {
    const page = await session.call('kv_list', { prefix, after, limit: Math.min(remaining, DEFAULT_LIST_LIMIT), ...EXACT })
    const items = page.items.slice(0, remaining).map(exactEntry)
    yield * items
    remaining -= items.length
    after = page.next
  } while (after != null && remaining > 0 && !signal.aborted)
}

interface EntryWriter {
  item: (entry: Entry) => void
  end: () => void
}

function lines (out: NodeJS.WritableStream): EntryWriter {
  return { item: entry => out.write(formatEntryLine(entry) + '\n'), end: () => {} }
}

/** A JSON array written one entry per line as it goes. */
function jsonArray (out: NodeJS.WritableStream): EntryWriter {
  let count = 0
  return {
    item: entry => out.write((count++ === 0 ? '[\n  ' : ',\n  ') + stringifyExact(entry)),
    end: () => out.write(count === 0 ? '[]\n' : '\n]\n')
  }
}
