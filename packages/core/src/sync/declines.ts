/**
 * Snapshots a pull declined (see `Hello.rows` and `PullSession`): the
 * servers whose next pull asks for no rows, and when a pull that would now
 * take one asks again at once for them.
 *
 * A snapshot offered that this node declines (`snapshotReason` gives it no
 * reason to take it: nothing it may jump, or not behind for long enough)
 * ends the pull at its first row, and the next pull from that server, at
 * once, asks for none: the rows came all the same, each checked, for
 * nothing, on every pull (a server with floors no attestation vouches for
 * sent its whole store to each puller, on every pull, for good). That pull
 * still hears the attestations and decides again; if it would now take the
 * snapshot, it takes nothing and the next pull, at once (once a `STUCK_MS`
 * per server), asks for the rows.
 */
import type { ReplicaState } from '../replica/state.js'

/** Servers remembered at most: a node pulls from the members it links to, far fewer. */
const MAX_SERVERS = 4096

/** Whether a pull from `peer` asks for a snapshot's rows: not from a 3.2.0 server (`declines`) whose last offer it declined. */
export function asksRows (state: ReplicaState, peer: string | undefined, declines: boolean): boolean {
  return !(declines && peer !== undefined && state.declined.has(peer))
}

/** This node declined `peer`'s snapshot: its next pull from it asks for no rows. */
export function noteDeclined (state: ReplicaState, peer: string): void {
  if (state.declined.size >= MAX_SERVERS) state.declined.clear()
  state.declined.add(peer)
}

/**
 * A pull without rows found this node would now take `peer`'s snapshot: the
 * next pull from it asks for the rows; whether at once (once a `stuckMs` per
 * server at most, so a server offering by turns floors to take and not to
 * take cannot keep it pulling back to back).
 */
export function wantsRows (state: ReplicaState, peer: string): boolean {
  state.declined.delete(peer)
  const now = state.now()
  const last = state.wanted.get(peer)
  if (last !== undefined && now - last < state.config.stuckMs) return false
  if (state.wanted.size >= MAX_SERVERS) state.wanted.clear()
  state.wanted.set(peer, now)
  return true
}
