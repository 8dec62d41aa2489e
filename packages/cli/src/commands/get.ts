import { decodeValue } from '@murmur/protocol/client'
import { withSession, type CommandContext } from '../context.js'
import { KeyNotFoundError } from '../errors.js'
import { formatEntryMeta } from '../format.js'
import { printJson, printLine } from '../io.js'

export interface GetOptions {
  meta?: boolean
}

/** Prints the value as is: text with a newline, binary values as raw bytes with none added. */
export async function get (ctx: CommandContext, key: string, opts: GetOptions): Promise<void> {
  const entry = await withSession(ctx, async session => await session.call('kv_get', { key }))
  if (entry == null) throw new KeyNotFoundError(key)
  const { stdout } = ctx.io
  if (ctx.json) printJson(stdout, entry)
  else if (opts.meta === true) printLine(stdout, formatEntryMeta(entry))
  else if (entry.encoding === 'base64') stdout.write(decodeValue(entry.value, 'base64'))
  else printLine(stdout, entry.value)
}
