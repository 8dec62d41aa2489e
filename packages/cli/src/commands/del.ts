import { withSession, emit, type CommandContext } from '../context.js'
import { KeyNotFoundError } from '../errors.js'
import { formatVersion } from '../format.js'
import { conditionParams, type ConditionOptions } from './put.js'

export async function del (ctx: CommandContext, key: string, opts: Pick<ConditionOptions, 'ifVersion'> = {}): Promise<void> {
  const result = await withSession(ctx, async session => await session.call('kv_delete', { key, ...conditionParams(opts) }))
  if (!result.deleted) throw new KeyNotFoundError(key)
  emit(ctx, result, ({ version }) => version != null ? `OK deleted, ${formatVersion(version)}` : 'OK deleted')
}
