/**
 * `murmurctl health [--peers N]` for probes (systemd, Docker, Kubernetes):
 * exit 0 only when murmurd answers, its database takes a write, and at least
 * N group members are connected; 1 when it answers unhealthy; 3 when it does
 * not answer. `murmurctl version`: this client's and the daemon's versions
 * and the daemon's protocols.
 */
import { DaemonUnavailableError, UnhealthyError } from '../errors.js'
import { emit, withSession, type CommandContext } from '../context.js'
import { printJson, printLine } from '../io.js'
import type { VersionResult } from '@murmur/protocol/client'

export interface HealthOptions {
  peers?: number
}

export async function health (ctx: CommandContext, opts: HealthOptions): Promise<void> {
  const result = await withSession(ctx, async session => await session.call('node_health', {}))
  const need = opts.peers ?? 0
  const problems: string[] = []
  if (!result.writable) problems.push(`the database does not take a write (${result.error ?? 'no reason given'})`)
  if (result.members < need) problems.push(`${result.members} group member${result.members === 1 ? '' : 's'} connected, --peers asks for ${need}`)
  const healthy = problems.length === 0
  emit(ctx, { healthy, ...result, ...(opts.peers != null ? { needPeers: need } : {}), problems }, r =>
    healthy ? `OK healthy: database writable, ${r.members} group member${r.members === 1 ? '' : 's'} connected` : `UNHEALTHY: ${problems.join('; ')}`)
  if (!healthy) throw new UnhealthyError()
}

export async function version (ctx: CommandContext, client: string): Promise<void> {
  const mine = { version: client, node: process.version }
  let daemon: VersionResult | undefined
  let error: DaemonUnavailableError | undefined
  try {
    daemon = await withSession(ctx, async session => await session.call('node_version', {}))
  } catch (err) {
    if (!(err instanceof DaemonUnavailableError)) throw err
    error = err
  }
  if (ctx.json) printJson(ctx.io.stdout, { client: mine, ...(daemon != null ? { daemon } : { error: error?.message }) })
  else {
    printLine(ctx.io.stdout, `murmurctl ${mine.version} (Node.js ${mine.node})`)
    if (daemon != null) {
      printLine(ctx.io.stdout, `murmurd   ${daemon.version} (Node.js ${daemon.node})`)
      printLine(ctx.io.stdout, `protocols rpc ${daemon.protocols.rpc}; sync ${daemon.protocols.sync}; gossip ${daemon.protocols.gossip}`)
    }
  }
  // the client's own version is printed either way; a missing daemon still fails the command (exit 3)
  if (error != null) throw error
}
