/**
 * `node_invite`: a ticket for joining this node's group (see the format in
 * `@murmur/protocol`'s ticket.ts). It carries this node's addresses, direct
 * and relayed, so a new node can reach the group through it, or through the
 * relays it has a reservation on when it sits behind NAT; and, for a closed
 * group, the swarm key, which makes the ticket a secret.
 */
import { encodeTicket, MAX_TICKET_ADDRS, type InviteResult } from '@murmur/protocol'
import { isoTime } from './iso-time.js'

export interface InviteInit {
  group: string
  inviter: string
  /** This node's addresses, each ending in `/p2p/<inviter>`. */
  addrs: string[]
  swarmKey?: Uint8Array
  /** Whether this node has an allow-list. */
  allowList: boolean
  expiresInMs: number
  /** @default Date.now() */
  now?: number
}

/** A ticket holds at most this many of each kind of address, so relayed ones always fit beside direct ones. */
const PER_KIND = MAX_TICKET_ADDRS / 2

export function createInvite (init: InviteInit): InviteResult {
  const relayed = init.addrs.filter(addr => addr.includes('/p2p-circuit'))
  const direct = init.addrs.filter(addr => !addr.includes('/p2p-circuit'))
  const addrs = [...direct.slice(0, PER_KIND), ...relayed.slice(0, PER_KIND)]
  if (addrs.length === 0) throw new Error('this node has no address to put in a ticket; give it a --listen address')
  // tickets keep whole seconds: say the expiry the joining node will read
  const expires = Math.ceil(((init.now ?? Date.now()) + init.expiresInMs) / 1000) * 1000
  const ticket = encodeTicket({ group: init.group, inviter: init.inviter, addrs, expires, ...(init.swarmKey != null ? { swarmKey: init.swarmKey } : {}) })
  return { ticket, group: init.group, expires: isoTime(expires), closed: init.swarmKey != null, allowList: init.allowList, addrs }
}
