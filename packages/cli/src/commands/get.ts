import { decodeValue, prettyJson, valueText } from '@murmur/protocol/client'
import { EXACT, exactEntry } from '../exact.js'
import { withSession, type CommandContext } from '../context.js'
import { KeyNotFoundError } from '../errors.js'
import { formatEntryMeta } from '../format.js'
import { formatConflicts, formatConflictsWithoutValue } from '../format-history.js'
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
  if (opts.conflicts === true) return await getConflicts(ctx, key)
  const got = await withSession(ctx, async session => await session.call('kv_get', { key, ...EXACT }))
  if (got == null) throw new KeyNotFoundError(key)
  const entry = exactEntry(got)
  const { stdout } = ctx.io
  if (ctx.json) printJson(stdout, entry)
  else if (opts.meta === true) printLine(stdout, formatEntryMeta(entry))
  else if (entry.encoding === 'base64') stdout.write(decodeValue(String(entry.value), 'base64'))
  else if (entry.type === 'json') printLine(stdout, opts.pretty === true ? prettyJson(valueText(entry)) : valueText(entry))
  else printLine(stdout, String(entry.value))
}

/**
 * The value and the versions that lost to a write that had not seen them. A
 * key deleted (or expired) since still has them in history: they are shown
 * with its newest version; only a key with no version held is not found.
 */
async function getConflicts (ctx: CommandContext, key: string): Promise<void> {
  const { entry, versions } = await withSession(ctx, async session => {
    const got = await session.call('kv_get', { key, conflicts: true, ...EXACT })
    const entry = got == null ? undefined : { ...exactEntry(got), ...(got.conflicts !== undefined ? { conflicts: got.conflicts.map(exactEntry) } : {}) }
    return { entry, versions: entry == null ? (await session.call('kv_history', { key, ...EXACT })).versions.map(exactEntry) : [] }
  })
  const { stdout } = ctx.io
  if (entry != null) {
    if (ctx.json) printJson(stdout, entry)
    else printLine(stdout, formatConflicts(entry, entry.conflicts ?? []))
    return
  }
  const newest = versions[0]
  if (newest === undefined) throw new KeyNotFoundError(key)
  const conflicts = versions.filter(v => v.conflict)
  if (ctx.json) printJson(stdout, { key, deleted: newest.deleted, version: newest.version, conflicts })
  else printLine(stdout, formatConflictsWithoutValue(key, newest, conflicts))
}
