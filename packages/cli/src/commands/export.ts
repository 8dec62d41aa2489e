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

/**
 * An entry as a line. A typed entry comes as base64 (see `exportKeys`), so a
 * json or text value is exported as the text it is, byte for byte; a json
 * value that does not parse (or is not UTF-8) as the binary it is, and text
 * that is not UTF-8 as base64, marked.
 */
export function toExported (entry: Entry): Exported {
  const type = typeOfEntry(entry)
  const meta = { version: entry.version, ...(entry.expires !== undefined ? { expires: entry.expires } : {}) }
  if (entry.type !== undefined && entry.encoding === 'base64' && type !== 'binary') {
    const text = textOf(entry.value as string, type)
    if (text !== undefined) return { key: entry.key, type, value: text, ...meta }
    return { key: entry.key, type: type === 'json' ? 'binary' : 'text', value: entry.value as string, ...meta, ...(type === 'text' ? { encoding: 'base64' as const } : {}) }
  }
  // a daemon before value types, asked for UTF-8: what came as base64 is binary
  return { key: entry.key, type: entry.encoding === 'base64' ? 'binary' : type, value: valueText(entry), ...meta }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The text of base64 `value`: UTF-8, and for json JSON that parses; else undefined. */
function textOf (value: string, type: WireValueType): string | undefined {
  try {
    const text = utf8.decode(Buffer.from(value, 'base64'))
    if (type === 'json') JSON.parse(text)
    return text
  } catch {
    return undefined
  }
}

/** Writes pages as they arrive (a large store need not fit in memory); the count of keys goes to stderr at the end. */
export async function exportKeys (ctx: CommandContext, opts: ExportOptions): Promise<void> {
  const count = await withSession(ctx, async session => {
    let after: string | undefined
    let count = 0
    do {
      // as base64, a json value comes byte for byte (as JSON its numbers would be doubles: 1e400 read back as null);
      // a daemon before value types sends no type, and only as UTF-8 tells its text from its binary
      let page = await session.call('kv_list', { prefix: opts.prefix, after, limit: DEFAULT_LIST_LIMIT, encoding: 'base64' })
      if (page.items.some(entry => entry.type === undefined)) page = await session.call('kv_list', { prefix: opts.prefix, after, limit: DEFAULT_LIST_LIMIT })
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
