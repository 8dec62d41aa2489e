/** Commands about the node and its peers rather than its keys. */
import { emit, withSession, type CommandContext } from '../context.js'
import { formatPeer } from '../format.js'
import { formatStatus } from '../format-status.js'

export async function peers (ctx: CommandContext): Promise<void> {
  const result = await withSession(ctx, async session => await session.call('p2p_peers', {}))
  // No peers prints nothing, so that `murmurctl peers | wc -l` counts them.
  if (!ctx.json && result.length === 0) return
  emit(ctx, result, list => list.map(formatPeer).join('\n'))
}

export async function connect (ctx: CommandContext, addr: string): Promise<void> {
  const result = await withSession(ctx, async session => await session.call('p2p_connect', { addr }))
  emit(ctx, result, ({ id }) => id)
}

export async function status (ctx: CommandContext): Promise<void> {
  const result = await withSession(ctx, async session => await session.call('node_status', {}))
  emit(ctx, result, formatStatus)
}
