/**
 * `murmurctl invite [--expires 24h]`: a ticket for joining the daemon's
 * group, made by murmurd (it knows the addresses and holds the key). The
 * ticket alone goes to stdout, so `$(murmurctl invite)` is the ticket; what
 * it is, how to use it and, for a closed group, that it is a secret go to
 * stderr.
 */
import { withSession, type CommandContext } from '../context.js'
import { printJson, printLine } from '../io.js'

export interface InviteOptions {
  expires: number
}

export async function invite (ctx: CommandContext, opts: InviteOptions): Promise<void> {
  const result = await withSession(ctx, async session => await session.call('node_invite', { expiresInMs: opts.expires }))
  if (ctx.json) {
    printJson(ctx.io.stdout, result)
    return
  }
  printLine(ctx.io.stdout, result.ticket)
  const secret = result.closed
    ? `This ticket holds group ${result.group}'s swarm key: it is a SECRET. Anyone who has it can join and read and write everything until ${result.expires}, and the key inside never expires. Send it only to the new member, over a private channel.`
    : `Group ${result.group} is open (no swarm key): anyone who can reach its nodes can join, ticket or not.`
  const allowed = result.allowList === true ? '\nThis group has an allow-list: the new node is refused until its peer ID (murmurd prints it at start) is on every member\'s list.' : ''
  printLine(ctx.io.stderr, `${secret}${allowed}\nOn the new node, run: murmurd --name <name> --join <ticket>  (valid until ${result.expires})`)
}
