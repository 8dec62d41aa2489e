import { decodeValue } from '@murmur/protocol/client'
import { withSession, type CommandContext } from '../context.js'
import { KeyNotFoundError } from '../errors.js'
import { formatEntryMeta } from '../format.js'
import { formatConflicts } from '../format-history.js'
import { printJson, printLine } from '../io.js'

export interface GetOptions {
  meta?: boolean
  /** Also the losing values still in history. */
  conflicts?: boolean
  /** A json value indented. */
  pretty?: boolean
}

/** Prints the value as is: text with a newline, json as stored (or indented), binary values as raw bytes with none added. */
export async function get (ctx: CommandContext, key: string, opts: GetOptions): Promise<void> {
  const entry = await withSession(ctx, async session => await session.call('kv_get', { key, ...(opts.conflicts === true ? { conflicts: true } : {}) }))
  if (entry == null) throw new KeyNotFoundError(key)
  const { stdout } = ctx.io
  if (ctx.json) printJson(stdout, entry)
  else if (opts.conflicts === true) printLine(stdout, formatConflicts(entry, entry.conflicts ?? []))
  else if (opts.meta === true) printLine(stdout, formatEntryMeta(entry))
  else if (entry.encoding === 'base64') stdout.write(decodeValue(String(entry.value), 'base64'))
  else if (entry.type === 'json') printLine(stdout, JSON.stringify(entry.value, null, opts.pretty === true ? 2 : undefined))
  else printLine(stdout, String(entry.value))
}
