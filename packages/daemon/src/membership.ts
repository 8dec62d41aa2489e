/**
 * Joining with a ticket, and remembering what was joined. `--join <ticket>`
 * (or `createMurmur({ join })`) is checked whole before anything is written;
 * then the data dir gets the group's name (`group.json`), its swarm key
 * (`swarm.key`, mode 0600) for a closed group, and the ticket's peers in the
 * peer book, so every later start needs no flag at all.
 *
 * Precedence: a group or key given as an option wins over the ticket, which
 * wins over what the data dir holds, and any two that disagree are an error
 * (a node told two groups would join neither).
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { decodeTicket, formatSwarmKey, NODE_NAME, TicketError, type Ticket } from '@murmur/protocol'
import { parsePeerId } from './allow-list.js'
import { ConfigError } from './errors.js'
import { PeerBook } from './peer-book.js'
import { readSwarmKey } from './swarm-key.js'
import { isoTime } from './iso-time.js'
import type { Logger } from 'pino'

export const MEMBERSHIP_FILE = 'group.json'
export const SWARM_KEY_FILE = 'swarm.key'
export const GROUP_NAME = NODE_NAME

export interface MembershipInit {
  dataDir: string
  /** A group named by an option (`--group`, `init.group`). */
  group?: string
  /** A key given by an option (`--swarm-key`, `init.swarmKey`). */
  swarmKey?: Uint8Array
  /** A ticket to join with. */
  join?: string
}

export interface Membership {
  group: string
  swarmKey?: Uint8Array
  /** The checked ticket, still to be stored by `storeMembership`. */
  ticket?: Ticket
  /** Where the group came from. */
  source: 'option' | 'ticket' | 'data-dir' | 'default'
}

/** The node's group and key; `ConfigError` for a bad ticket or a conflict. Reads, never writes. */
export function resolveMembership (init: MembershipInit, now = Date.now()): Membership {
  const stored = readMembership(init.dataDir)
  let ticket = init.join != null ? parseTicket(init.join) : undefined
  if (ticket != null && ticket.expires <= now) {
    // a ticket left in MURMUR_JOIN or a config file must not stop a node that joined with it from restarting
    if (stored?.group !== ticket.group) throw new ConfigError(`invalid --join ticket: it expired at ${isoTime(ticket.expires)}; ask for a new one (murmurctl invite)`)
    ticket = undefined
  }
  if (ticket != null && stored != null && stored.group !== ticket.group) {
    throw new ConfigError(`data dir ${init.dataDir} already belongs to group "${stored.group}"; join group "${ticket.group}" with another data dir`)
  }
  if (ticket != null && init.group != null && init.group !== ticket.group) {
    throw new ConfigError(`the ticket is for group "${ticket.group}", not "${init.group}"; drop --group, or ask for a ticket to "${init.group}"`)
  }
  if (stored != null && init.group != null && init.group !== stored.group) {
    throw new ConfigError(`data dir ${init.dataDir} belongs to group "${stored.group}" (joined with a ticket), not "${init.group}"; drop --group`)
  }
  if (ticket?.swarmKey != null && init.swarmKey != null && !sameBytes(ticket.swarmKey, init.swarmKey)) {
    throw new ConfigError('the ticket\'s swarm key differs from --swarm-key; drop one of them')
  }
  const group = init.group ?? ticket?.group ?? stored?.group ?? 'default'
  const swarmKey = init.swarmKey ?? (ticket != null ? ticket.swarmKey : stored?.swarmKey)
  const source = init.group != null ? 'option' : ticket != null ? 'ticket' : stored != null ? 'data-dir' : 'default'
  return { group, source, ...(swarmKey != null ? { swarmKey } : {}), ...(ticket != null ? { ticket } : {}) }
}

/** Decodes a ticket and checks its fields: the group name, peer IDs, addresses (not the expiry). */
export function parseTicket (text: string): Ticket {
  let ticket: Ticket
  try {
    ticket = decodeTicket(text)
  } catch (err) {
    if (err instanceof TicketError) throw new ConfigError(`invalid --join ticket: ${err.message}`)
    throw err
  }
  const bad = (what: string): ConfigError => new ConfigError(`invalid --join ticket: ${what}`)
  if (!GROUP_NAME.test(ticket.group)) throw bad(`its group "${ticket.group}" is not a group name`)
  try {
    parsePeerId(ticket.inviter, 'the ticket')
  } catch {
    throw bad(`its inviter "${ticket.inviter}" is not a peer ID`)
  }
  if (ticket.addrs.length === 0) throw bad('it holds no address to reach the group')
  for (const addr of ticket.addrs) {
    try {
      multiaddr(addr)
    } catch {
      throw bad(`"${addr}" is not a multiaddr`)
    }
    parsePeerId(peerOf(addr) ?? '', `the ticket's address ${addr}`)
  }
  return ticket
}

/** The group and key a ticket left in the data dir, if one did. */
export function readMembership (dataDir: string): Omit<Membership, 'source'> | undefined {
  const path = join(dataDir, MEMBERSHIP_FILE)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`)
  }
  let group: unknown
  try {
    group = (JSON.parse(text) as { group?: unknown }).group
  } catch {}
  if (typeof group !== 'string' || !GROUP_NAME.test(group)) throw new ConfigError(`${path} is damaged: it names no group; join again with a new ticket`)
  const keyPath = join(dataDir, SWARM_KEY_FILE)
  const swarmKey = existsSync(keyPath) ? readSwarmKey(keyPath) : undefined
  return { group, ...(swarmKey != null ? { swarmKey } : {}) }
}

/**
 * Stores a checked ticket in the data dir: its key (0600) first, then the
 * group file that makes the data dir a member (each written whole, then
 * renamed), then the ticket's peers in the peer book.
 */
export function storeMembership (dataDir: string, ticket: Ticket, log: Logger): void {
  const keyPath = join(dataDir, SWARM_KEY_FILE)
  if (ticket.swarmKey != null) writeWhole(keyPath, formatSwarmKey(ticket.swarmKey))
  else rmSync(keyPath, { force: true }) // the group is open now: an old key would keep this node out
  writeWhole(join(dataDir, MEMBERSHIP_FILE), JSON.stringify({ group: ticket.group, inviter: ticket.inviter, joinedAt: isoTime(Date.now()) }, null, 2) + '\n')
  const book = new PeerBook(dataDir, log)
  const byPeer = new Map<string, string[]>()
  for (const addr of ticket.addrs) {
    const peer = peerOf(addr) as string
    byPeer.set(peer, [...byPeer.get(peer) ?? [], addr])
  }
  for (const [id, addrs] of byPeer) book.remember({ id, addrs, via: 'ticket' })
  book.flush()
  log.info({ group: ticket.group, inviter: ticket.inviter, peers: byPeer.size, closed: ticket.swarmKey != null }, 'joined the group with a ticket')
}

/** The peer an address reaches: its last `/p2p/<id>` (for a relayed address, the peer behind the relay). */
export function peerOf (addr: string): string | undefined {
  const last = addr.lastIndexOf('/p2p/')
  return last < 0 ? undefined : addr.slice(last + 5).split('/')[0]
}

function writeWhole (path: string, text: string): void {
  const tmp = `${path}.tmp`
  rmSync(tmp, { force: true }) // a leftover would keep its own mode
  writeFileSync(tmp, text, { mode: 0o600 })
  renameSync(tmp, path)
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i])
}
