/**
 * Reaching members behind NAT, with libp2p's own parts and only the group's
 * own nodes: circuit relay v2, served by members started with `--relay` to
 * members only; DCUtR to turn a relayed connection into a direct one; AutoNAT
 * so a node learns whether its addresses can be dialled from outside. No
 * public relay or bootstrap list is ever configured.
 *
 * Every node runs the relay transport and a relay client (relay-client.ts)
 * that keeps a reservation on the group relays it is connected to, so it
 * advertises a relayed address (in `status`, identify and its tickets).
 */
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { ConnectionGater, Libp2pEvents, PeerId, TypedEventTarget } from '@libp2p/interface'

/**
 * The relay server's bounds. Relayed connections carry the group's gossip
 * and sync, so they get no per-connection data or time limit: the public
 * defaults (2 min, 128 KiB) would cut a catch-up short (100,000 keys are
 * ~13 MB) and make libp2p refuse sync and gossip streams on them. What
 * bounds a relay instead: it serves members only, at most this many
 * reservations, each renewed within the hour and freed once its member
 * disconnects (`freeReservationsOnDisconnect`), and this many hop streams on
 * each connection (libp2p counts them per connection; a relayed connection
 * keeps the hop stream it was asked on for its life).
 */
export const RELAY_SERVER_LIMITS = {
  reservations: { maxReservations: 128, applyDefaultLimit: false, reservationTtl: 60 * 60 * 1000 },
  maxInboundHopStreams: 64,
  maxOutboundHopStreams: 64,
  hopTimeout: 15_000
}

/**
 * Frees a member's reservation as its last connection to the relay closes.
 * libp2p keeps it for its hour, and a peer the relay is not connected to
 * cannot be relayed to anyway (libp2p answers NO_RESERVATION), so slots held
 * by members gone would only lock out members present: one that cycles
 * identities could fill all 128. A member that comes back reserves again
 * once identify shows it the relay (relay-client.ts).
 */
export function freeReservationsOnDisconnect (events: TypedEventTarget<Pick<Libp2pEvents, 'peer:disconnect'>>, relay: CircuitRelayService): void {
  events.addEventListener('peer:disconnect', ({ detail: peer }) => {
    // ended through its own timer, not deleted: that timer, left running, would later delete the
    // reservation the member makes on its return (libp2p deletes by peer whatever fires)
    relay.reservations.get(peer)?.signal.reset(0)
  })
}

/** How long the relay waits for a new peer's sync handshake to show it a member before it refuses it. */
export const MEMBER_WAIT_MS = 10_000

/**
 * The relay's admission rule as connection-gater hooks: only a peer that
 * proves itself a member of this group (the sync handshake, and so the swarm
 * key and the allow-list where there are ones) may reserve a slot, and
 * only between two members is a connection relayed.
 */
export function relayGate (isMember: (peer: PeerId) => Promise<boolean>): Pick<ConnectionGater, 'denyInboundRelayReservation' | 'denyOutboundRelayedConnection'> {
  return {
    denyInboundRelayReservation: async peer => !await isMember(peer),
    denyOutboundRelayedConnection: async (source, destination) => !(await isMember(source) && await isMember(destination))
  }
}

/** Resolves, as soon as it is known, whether a peer is a group member: at once, when its handshake completes, or no after a while. */
export class MemberWatch {
  private readonly waiters = new Map<string, Set<(member: boolean) => void>>()

  constructor (private readonly isMember: (peer: string) => boolean) {}

  /** The peer completed the sync handshake as a member. */
  joined (peer: string): void {
    this.settle(peer, true)
  }

  /** The peer's sync handshake named another group. */
  refused (peer: string): void {
    this.settle(peer, false)
  }

  private settle (peer: string, member: boolean): void {
    for (const wake of [...this.waiters.get(peer) ?? []]) wake(member)
    this.waiters.delete(peer)
  }

  /** Whether `peer` is, or within `ms` becomes, a member. */
  async until (peer: string, ms = MEMBER_WAIT_MS): Promise<boolean> {
    if (this.isMember(peer)) return true
    return await new Promise<boolean>(resolve => {
      const set = this.waiters.get(peer) ?? new Set()
      this.waiters.set(peer, set)
      const done = (member: boolean): void => {
        clearTimeout(timer)
        set.delete(done)
        if (set.size === 0 && this.waiters.get(peer) === set) this.waiters.delete(peer)
        resolve(member)
      }
      const timer = setTimeout(() => { done(false) }, ms)
      set.add(done)
    })
  }
}
