import { decodeValue, encodeValue } from '@murmur/protocol/client'
import { emit, withSession, type CommandContext } from '../context.js'
import { formatVersion } from '../format.js'
import { readAll, type CliIo } from '../io.js'

export interface PutOptions {
  /** The value is base64 text for the bytes to store. */
  base64?: boolean
}

/** `put <key> <value>`; `-` reads the value from stdin. */
export async function put (ctx: CommandContext, key: string, value: string, opts: PutOptions): Promise<void> {
  // Read stdin before connecting, so a slow producer does not hold a connection open.
  const wire = await wireValue(ctx.io, value, opts.base64 === true)
  const result = await withSession(ctx, async session => await session.call('kv_put', { key, ...wire }))
  emit(ctx, result, ({ version }) => `OK ${formatVersion(version)}`)
}

async function wireValue (io: CliIo, value: string, base64: boolean): Promise<{ value: string, encoding?: 'base64' }> {
  const input = value === '-' ? await readAll(io.stdin) : undefined
  if (base64) {
    // `base64` wraps its output at 76 columns; the wire wants it unwrapped.
    const text = (input?.toString('latin1') ?? value).replace(/\s+/g, '')
    decodeValue(text, 'base64') // throws InvalidBase64Error, a usage error
    return { value: text, encoding: 'base64' }
  }
  return input != null ? encodeValue(input) : { value }
}
