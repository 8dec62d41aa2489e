import { compactJson, decodeValue, encodeValue, jsonPutValue, parseJson, type ExpectedVersion } from '@murmur/protocol/client'
import { emit, withSession, type CommandContext } from '../context.js'
import { CommandError, UsageError } from '../errors.js'
import { formatVersion } from '../format.js'
import { readAll, type CliIo } from '../io.js'

/** `--if-version` and `--if-absent`, as put and del take them. */
export interface ConditionOptions {
  /** `<origin>/<seq>`, parsed. */
  ifVersion?: ExpectedVersion
  ifAbsent?: boolean
}

export interface PutOptions extends ConditionOptions {
  /** The value is base64 text for the bytes to store. */
  base64?: boolean
  /** json: the value is a JSON document, checked here; binary: given as base64 (as with `base64`). */
  type?: 'text' | 'json' | 'binary'
  /** `--ttl`, parsed: the value expires this long after the write, on every replica. */
  ttl?: number
  /** murmurd writes it again every third of the TTL while it runs. */
  keepalive?: boolean
}

/** `put <key> <value>`; `-` reads the value from stdin. */
export async function put (ctx: CommandContext, key: string, value: string, opts: PutOptions): Promise<void> {
  // Read stdin before connecting, so a slow producer does not hold a connection open.
  if (opts.keepalive === true && opts.ttl === undefined) throw new UsageError('--keepalive needs --ttl (at least 2s): the key expires that long after its node stops')
  const wire = await wireValue(ctx.io, value, opts)
  const params = { key, ...wire, ...conditionParams(opts), ...(opts.ttl !== undefined ? { ttlMs: opts.ttl } : {}), ...(opts.keepalive === true ? { keepalive: true } : {}) }
  const result = await withSession(ctx, async session => await session.call('kv_put', params))
  emit(ctx, result, ({ version }) => `OK ${formatVersion(version)}`)
}

/** The RPC params of a condition, none when there is none. */
export function conditionParams ({ ifVersion, ifAbsent }: ConditionOptions): { ifVersion?: ExpectedVersion, ifAbsent?: true } {
  return { ...(ifVersion !== undefined ? { ifVersion } : {}), ...(ifAbsent === true ? { ifAbsent } : {}) }
}

async function wireValue (io: CliIo, value: string, opts: PutOptions): Promise<{ value: unknown, encoding?: 'base64', type?: 'text' | 'json' }> {
  const input = value === '-' ? await readAll(io.stdin) : undefined
  if (opts.type === 'json') {
    if (opts.base64 === true) throw new CommandError('a json value is JSON text, not base64: give --json or --base64, not both')
    const text = input?.toString('utf8') ?? value
    let parsed: unknown
    try {
      parsed = parseJson(text)
    } catch (err) {
      throw new CommandError(`the value is ${(err as Error).message}`)
    }
    // stored compact, but as its own tokens: as JSON, 1e400 would reach murmurd as a double (null), 12345678901234567891 rounded
    return jsonPutValue(compactJson(text), parsed)
  }
  if (opts.base64 === true || opts.type === 'binary') {
    // `base64` wraps its output at 76 columns; the wire wants it unwrapped.
    const text = (input?.toString('latin1') ?? value).replace(/\s+/g, '')
    decodeValue(text, 'base64') // throws InvalidBase64Error, a usage error
    return { value: text, encoding: 'base64' }
  }
  const text = input != null ? encodeValue(input) : { value }
  // --type text: stdin that is not UTF-8 still travels as base64, but stays text
  return opts.type === 'text' ? { ...text, type: 'text' } : text
}
