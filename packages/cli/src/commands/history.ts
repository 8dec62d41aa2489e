import { withSession, emit, type CommandContext } from '../context.js'
import { KeyNotFoundError } from '../errors.js'
import { EXACT, exactEntry } from '../exact.js'
import { formatVersion } from '../format.js'
import { formatHistory } from '../format-history.js'

/** The versions of `key` this node holds, newest first, with who wrote each (name and peer ID) and when. */
export async function history (ctx: CommandContext, key: string, opts: { limit?: number }): Promise<void> {
  const read = await withSession(ctx, async session => await session.call('kv_history', { key, ...EXACT, ...(opts.limit !== undefined ? { limit: opts.limit } : {}) }))
  if (read.versions.length === 0) throw new KeyNotFoundError(key)
  const result = { ...read, versions: read.versions.map(exactEntry) }
  emit(ctx, result, ({ versions }) => formatHistory(key, versions))
}

/** Writes a version `history` lists as a new write. */
export async function revert (ctx: CommandContext, key: string, version: { origin: string, seq: number }): Promise<void> {
  const result = await withSession(ctx, async session => await session.call('kv_revert', { key, version }))
  emit(ctx, result, ({ version: written }) => `OK reverted ${key} to ${version.origin}/${version.seq}, ${formatVersion(written)}`)
}
