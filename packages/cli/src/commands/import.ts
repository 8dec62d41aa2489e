/**
 * `murmurctl import <file>` (or `-` for stdin): writes the keys of an export
 * (NDJSON, see export.ts) in batches, each one transaction on the daemon.
 * Every line is checked before anything is written, as the daemon would
 * check it, so bad input writes nothing and the error names its line. A
 * value with an expiry is written with the TTL left until it as its batch is
 * sent (so it expires when it would have, however long the batches before
 * it took); one already past it is left out; one more than a
 * year ahead is written with a year: a writer's clock ahead of this one's
 * (within the skew a group allows) puts a year's TTL there, and it must
 * still expire.
 */
import { readFileSync } from 'node:fs'
import { DEFAULT_MAX_VALUE_BYTES, MAX_KEY_BYTES, MAX_TTL_MS, MurmurRpcError, RESERVED_KEY_PREFIX, isSchemaRefusal, decodeValue, jsonPutValue, type MethodName } from '@murmur/protocol/client'
import { emit, withSession, type CommandContext } from '../context.js'
import { CommandError } from '../errors.js'
import { readAll } from '../io.js'
import { Progress } from '../progress.js'

/** Writes per JSON-RPC batch (one transaction each). */
const BATCH = 500

/** A line to write; `expires` (wall ms) becomes a TTL only as its batch is sent (see `putParams`). */
interface Write { key: string, value: unknown, encoding?: 'base64', type?: 'json' | 'text', expires?: number }

export async function importKeys (ctx: CommandContext, file: string): Promise<void> {
  const source = file === '-' ? 'stdin' : file
  let text: string
  try {
    text = file === '-' ? (await readAll(ctx.io.stdin)).toString('utf8') : readFileSync(file, 'utf8')
  } catch (err) {
    throw new CommandError(`cannot read ${file}: ${(err as Error).message.replace(/, \w+ '.*'$/, '')}`)
  }
  const writes = parseExport(text, source, Date.now())
  const started = Date.now()
  let imported = 0
  await withSession(ctx, async session => {
    const progress = new Progress(ctx.io.stderr, `import ${source}`, writes.length)
    for (let i = 0; i < writes.length; i += BATCH) {
      const now = Date.now()
      // a value that expired while the batches before it were written is left out, as one expired in the file is
      const batch = writes.slice(i, i + BATCH).filter(write => write.expires === undefined || write.expires > now)
      const answers = batch.length === 0 ? [] : await session.batch(batch.map(write => ({ method: 'kv_put' as MethodName, params: putParams(write, now) })))
      const refused = answers.findIndex(answer => answer.error != null)
      if (refused >= 0) {
        const error = answers[refused]?.error
        const message = `murmurd refused the key of ${source} line ${(batch[refused] as Write & { line: number }).line}: ${error?.message ?? 'no answer'}; ${imported} keys were imported before its batch of ${batch.length}`
        // a schema's refusal keeps its exit code (6), which the client could not check beforehand
        throw error instanceof MurmurRpcError && isSchemaRefusal(error.code) ? new MurmurRpcError(error.code, message, error.data) : new CommandError(message)
      }
      imported += batch.length
      progress.update(Math.min(i + BATCH, writes.length))
    }
    progress.finish()
  })
  const result = { imported, batches: Math.ceil(writes.length / BATCH), ms: Date.now() - started }
  emit(ctx, result, r => `OK imported ${r.imported} key${r.imported === 1 ? '' : 's'} from ${source} in ${r.batches} batch${r.batches === 1 ? '' : 'es'} (${r.ms} ms)`)
}

/** Every non-blank line as a write (but values expired by `now`); throws `CommandError` naming the first bad line. */
export function parseExport (text: string, source: string, now: number): Array<Write & { line: number }> {
  const writes: Array<Write & { line: number }> = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim()
    if (line === '') continue
    try {
      const write = parseLine(line, now)
      if (write !== undefined) writes.push({ ...write, line: i + 1 })
    } catch (err) {
      throw new CommandError(`${source} line ${i + 1}: ${(err as Error).message}; nothing was imported`)
    }
  }
  return writes
}

const FIELDS = new Set(['key', 'type', 'value', 'version', 'expires', 'encoding'])

function parseLine (line: string, now: number): Write | undefined {
  let entry: unknown
  try {
    entry = JSON.parse(line)
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`)
  }
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new Error('expected an object such as {"key": "a", "type": "text", "value": "1"}')
  const fields = entry as Record<string, unknown>
  const unknown = Object.keys(fields).find(name => !FIELDS.has(name))
  if (unknown !== undefined) throw new Error(`unknown field "${unknown}" (an export line has key, type, value, version, expires and encoding)`)
  const { key, type = 'text', value, expires, encoding } = fields
  if (typeof key !== 'string' || key === '') throw new Error('"key" must be a non-empty string')
  if (!key.isWellFormed()) throw new Error('"key" must be valid UTF-8 (no lone surrogates)')
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new Error(`"key" is ${Buffer.byteLength(key)} bytes, over the ${MAX_KEY_BYTES}-byte limit`)
  if (key.startsWith(RESERVED_KEY_PREFIX)) throw new Error('"key" starts with U+0000, which murmur keeps for its own records')
  if (typeof value !== 'string') throw new Error('"value" must be a string (base64 when "type" is "binary", JSON text when "json")')
  if (type !== 'text' && type !== 'binary' && type !== 'json') throw new Error(`"type" must be "text", "json" or "binary", not ${JSON.stringify(type)}`)
  // "encoding": "base64" marks a text value whose bytes are not UTF-8
  if (encoding !== undefined && (encoding !== 'base64' || type !== 'text')) throw new Error('"encoding" can only be "base64", for a "text" value whose bytes are not UTF-8')
  if (type === 'text' && encoding === undefined && !value.isWellFormed()) throw new Error('"value" must be valid UTF-8 text; give binary values as base64 with "type": "binary"')
  let size: number
  try {
    size = type === 'binary' || encoding !== undefined ? decodeValue(value, 'base64').length : Buffer.byteLength(value)
  } catch (err) {
    throw new Error(`"value": ${(err as Error).message}`)
  }
  if (size > DEFAULT_MAX_VALUE_BYTES) throw new Error(`"value" is ${size} bytes, over the ${DEFAULT_MAX_VALUE_BYTES}-byte limit`)
  if (expires !== undefined && !(Number.isSafeInteger(expires) && (expires as number) >= 0)) throw new Error('"expires" must be a whole number of milliseconds since the epoch')
  if (expires !== undefined && (expires as number) <= now) return undefined
  const ttl = expires !== undefined ? { expires: expires as number } : {}
  if (type === 'json') {
    let parsed: unknown
    try {
      parsed = JSON.parse(value)
    } catch (err) {
      throw new Error(`"value" is not JSON text (${(err as Error).message})`)
    }
    // sent as JSON only when that is its text: else (1e400, 12345678901234567891, -0, an escape) as its bytes
    return { key, ...jsonPutValue(value, parsed), ...ttl }
  }
  if (encoding !== undefined) return { key, value, encoding: 'base64', type: 'text', ...ttl }
  return type === 'binary' ? { key, value, encoding: 'base64', ...ttl } : { key, value, ...ttl }
}

/**
 * A write's RPC params at `now`, as its batch is sent: an expiry becomes the
 * TTL left until it then (at most a year), so time spent on the batches before
 * (a large import, a murmurd busy for a while) does not move it later.
 */
function putParams ({ line, expires, ...params }: Write & { line: number }, now: number): Omit<Write, 'expires'> & { ttlMs?: number } {
  return expires === undefined ? params : { ...params, ttlMs: Math.min(expires - now, MAX_TTL_MS) }
}
