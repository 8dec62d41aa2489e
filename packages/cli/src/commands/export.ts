/**
 * `murmurctl export [--prefix p]`: every key as one JSON object per line
 * (NDJSON) on stdout, `{"key", "type": "text"|"json"|"binary", "value", "version"}`,
 * and `"expires"` (HLC wall ms) for a value with a TTL, where a binary value
 * is base64 and a json value its JSON text; a text value whose bytes are not
 * UTF-8 is base64 too, with `"encoding": "base64"`. `murmurctl import` reads
 * it back.
 */
import { DEFAULT_LIST_LIMIT, typeOfEntry, valueText, type Entry, type Version, type WireValueType } from '@murmur/protocol/client'
import { withSession, type CommandContext } from '../context.js'

export interface ExportOptions {
  prefix?: string
}

/** One line of an export. */
export interface Exported {
  key: string
  type: WireValueType
  value: string
  version: Version
  expires?: number
  /** Only for a text value whose bytes are not UTF-8. */
  encoding?: 'base64'
}

export function toExported (entry: Entry): Exported {
  // bytes a json value cannot be read as travel as base64: exported as the binary they are; text stays text
  const type = typeOfEntry(entry)
  const text = type === 'text' && entry.encoding === 'base64'
  return { key: entry.key, type: entry.encoding === 'base64' && !text ? 'binary' : type, value: valueText(entry), version: entry.version, ...(entry.expires !== undefined ? { expires: entry.expires } : {}), ...(text ? { encoding: 'base64' } : {}) }
}

/** Writes pages as they arrive (a large store need not fit in memory); the count of keys goes to stderr at the end. */
export async function exportKeys (ctx: CommandContext, opts: ExportOptions): Promise<void> {
  const count = await withSession(ctx, async session => {
    let after: string | undefined
    let count = 0
    do {
      const page = await session.call('kv_list', { prefix: opts.prefix, after, limit: DEFAULT_LIST_LIMIT })
      if (page.items.length > 0) await write(ctx.io.stdout, page.items.map(entry => JSON.stringify(toExported(entry)) + '\n').join(''))
      count += page.items.length
      after = page.next
    } while (after != null && !ctx.signal.aborted)
    return count
  })
  ctx.io.stderr.write(`murmurctl: exported ${count} key${count === 1 ? '' : 's'}\n`)
}

/** Writes, waiting for the stream to drain when it asks to (a pipe to a slow reader). */
async function write (out: NodeJS.WritableStream, text: string): Promise<void> {
  if (out.write(text)) return
  await new Promise<void>(resolve => out.once('drain', resolve))
}
