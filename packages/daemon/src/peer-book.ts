/**
 * The peer book: group members this node has connected to, kept in
 * `<data-dir>/peers.json` so a restarted node redials them with no flags.
 * It is a cache of addresses, not data: a damaged file is set aside
 * (`peers.json.bad`) and the node starts with an empty book.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { isoTime } from './iso-time.js'
import type { Logger } from 'pino'

/** How a peer was found. */
export type PeerSource = 'explicit' | 'mdns' | 'dht' | 'peerbook' | 'inbound' | 'ticket'

export interface PeerBookEntry {
  id: string
  name?: string
  addrs: string[]
  via: PeerSource
  /** It served circuit relay when last met: dialled whatever `--peer-links` says, so a node behind NAT keeps its reservation. */
  relay?: boolean
  lastSeen: string
}

export const PEER_BOOK_FILE = 'peers.json'
/** Entries not seen for this long are forgotten. */
export const FORGET_AFTER_MS = 30 * 24 * 60 * 60 * 1000
/** How stale a `lastSeen` may get before a handshake writes the file again. */
const SEEN_RESOLUTION_MS = 60 * 60 * 1000

function sameEntry (a: PeerBookEntry, b: PeerBookEntry): boolean {
  return a.name === b.name && a.via === b.via && a.relay === b.relay && a.addrs.length === b.addrs.length && a.addrs.every((addr, i) => addr === b.addrs[i])
}

export class PeerBook {
  private readonly path: string
  private readonly log: Logger
  private readonly entries = new Map<string, PeerBookEntry>()
  private saveTimer?: NodeJS.Timeout

  constructor (dataDir: string, log: Logger) {
    this.path = join(dataDir, PEER_BOOK_FILE)
    this.log = log
    for (const entry of this.read()) {
      if (Date.now() - Date.parse(entry.lastSeen) < FORGET_AFTER_MS) this.entries.set(entry.id, entry)
    }
  }

  list (): PeerBookEntry[] {
    return [...this.entries.values()]
  }

  /** Members held. */
  get size (): number {
    return this.entries.size
  }

  get (id: string): PeerBookEntry | undefined {
    return this.entries.get(id)
  }

  /**
   * Records a handshake with a member. Every sync handshake calls this (every
   * few seconds per peer), so the file is written only when the entry changes
   * or its `lastSeen` is an hour stale, not for every handshake.
   */
  remember (entry: Omit<PeerBookEntry, 'lastSeen'>): void {
    const previous = this.entries.get(entry.id)
    // keep the first way we found a peer, and its last known addresses if it gave none now
    const next: PeerBookEntry = {
      ...previous,
      ...entry,
      via: previous?.via ?? entry.via,
      addrs: entry.addrs.length > 0 ? entry.addrs : previous?.addrs ?? [],
      lastSeen: isoTime(Date.now())
    }
    if (previous !== undefined && sameEntry(previous, next) && Date.parse(next.lastSeen) - Date.parse(previous.lastSeen) < SEEN_RESOLUTION_MS) return
    this.entries.set(entry.id, next)
    this.saveTimer ??= setTimeout(() => { this.flush() }, 1_000)
  }

  /** Writes pending changes now (atomically: a temp file renamed over the old one). */
  flush (): void {
    clearTimeout(this.saveTimer)
    this.saveTimer = undefined
    const tmp = `${this.path}.tmp`
    try {
      writeFileSync(tmp, JSON.stringify(this.list(), null, 2) + '\n', { mode: 0o600 })
      renameSync(tmp, this.path)
    } catch (err) {
      // a write cut short (a full disk) or a rename refused left the temporary file: it would stay
      // beside the book until the next write that succeeds (a directory of that name is not ours to remove);
      // removed before the warning, so whoever reads the warning finds it gone
      try { rmSync(tmp, { force: true }) } catch {}
      this.log.warn({ err: (err as Error).message, path: this.path }, 'cannot save the peer book')
    }
  }

  private read (): PeerBookEntry[] {
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch {
      return []
    }
    try {
      const parsed: unknown = JSON.parse(text)
      if (!Array.isArray(parsed)) throw new Error('not a list')
      const entries = parsed.filter(isEntry)
      // an entry the node could not dial (a peer ID or an address mistyped by hand) is dropped, not a failed start
      if (entries.length < parsed.length) this.log.warn({ path: this.path, dropped: parsed.length - entries.length }, 'peer book entries that are not a peer ID with multiaddrs are dropped')
      return entries
    } catch (err) {
      this.log.warn({ err: (err as Error).message, path: this.path }, 'peer book is damaged; setting it aside and starting with an empty one')
      renameSync(this.path, `${this.path}.bad`)
      return []
    }
  }
}

function isEntry (value: unknown): value is PeerBookEntry {
  const entry = value as PeerBookEntry
  return typeof entry?.id === 'string' && Array.isArray(entry.addrs) && entry.addrs.every(a => typeof a === 'string') &&
    typeof entry.via === 'string' && typeof entry.lastSeen === 'string' && parses(() => [peerIdFromString(entry.id), ...entry.addrs.map(a => multiaddr(a))])
}

function parses (parse: () => unknown): boolean {
  try {
    parse()
    return true
  } catch {
    return false
  }
}
