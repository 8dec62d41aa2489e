/**
 * Keeps gossipsub attached to every connected member.
 *
 * Gossipsub forgets a peer whose stream fails while the connection stays up:
 * for an RPC over its read limit (the cause seen right after the catch-up of
 * a restarted node, an IWANT answered with a burst's messages in one RPC;
 * gossip-fragment.ts now keeps murmur's own RPCs under it), and when libp2p
 * reports the peer's protocols lost from the peer store. It then closes its
 * streams, so the other side stops hearing from it too: nothing is published
 * either way, and writes travel only by anti-entropy, seconds later. A connected member that gossipsub does not count as subscribed to
 * the group's topic is first identified again (libp2p then hands it to
 * gossipsub anew); if that does not bring it back, the connection is closed,
 * and the redial starts gossipsub afresh on both sides.
 */
import type { GossipSub } from '@libp2p/gossipsub'
import type { Connection, PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'

export interface GossipPeersInit {
  pubsub: GossipSub
  topic: string
  /** Every open connection of the node. */
  connections: () => Connection[]
  /** Runs identify on `connection` (libp2p then announces the peer's protocols to their topologies). */
  identify: (connection: Connection) => Promise<unknown>
  /** Closes every connection to `peer` (the dialer and the peer redial). */
  hangUp: (peer: PeerId) => Promise<unknown>
  /** Whether a peer is a member of our group (strangers are left alone). */
  isMember: (peer: string) => boolean
  log: Logger
  /** How often to look, and how long a member may be missing before it is identified again. @default 2_000 */
  everyMs?: number
  /** How long after that identify a member still missing is hung up on (a new connection's subscription may take a moment under load). @default 3_000 */
  retryMs?: number
}

interface Missing { since: number, identified?: number }

export class GossipPeers {
  private readonly init: GossipPeersInit
  private readonly missing = new Map<string, Missing>()
  private timer?: NodeJS.Timeout

  constructor (init: GossipPeersInit) {
    this.init = init
  }

  start (): void {
    this.timer = setInterval(() => { this.check() }, this.init.everyMs ?? 2_000)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
  }

  /** One look; returns what it did to whom (for tests). */
  check (now = Date.now()): Array<{ peer: string, did: 'identify' | 'hang up' }> {
    const { everyMs = 2_000, retryMs = 3_000 } = this.init
    const subscribed = new Set(this.init.pubsub.getSubscribers(this.init.topic).map(peer => peer.toString()))
    const connected = new Map<string, Connection>()
    for (const connection of this.init.connections()) {
      const peer = connection.remotePeer.toString()
      if (connection.status === 'open' && !subscribed.has(peer) && this.init.isMember(peer)) connected.set(peer, connection)
    }
    for (const peer of this.missing.keys()) if (!connected.has(peer)) this.missing.delete(peer)
    const done: Array<{ peer: string, did: 'identify' | 'hang up' }> = []
    for (const [peer, connection] of connected) {
      const state = this.missing.get(peer) ?? { since: now }
      this.missing.set(peer, state)
      if (state.identified === undefined && now - state.since >= everyMs) {
        state.identified = now
        done.push({ peer, did: 'identify' })
        this.init.log.debug({ peer }, 'gossipsub lost a connected member; identifying it again')
        this.init.identify(connection).catch((err: Error) => { this.init.log.debug({ peer, err: err.message }, 'identify failed') })
      } else if (state.identified !== undefined && now - state.identified >= retryMs) {
        this.missing.delete(peer)
        done.push({ peer, did: 'hang up' })
        this.init.log.info({ peer }, 'gossipsub lost a connected member; reconnecting to it')
        this.init.hangUp(connection.remotePeer).catch((err: Error) => { this.init.log.debug({ peer, err: err.message }, 'hang up failed') })
      }
    }
    return done
  }
}
