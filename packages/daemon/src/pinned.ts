/**
 * `--peer` addresses, kept connected: each is dialled directly (a bare
 * `/dns4/alice/tcp/4001` works, no `/p2p/<id>` needed) and redialled with
 * the dialer's jittered exponential backoff whenever its connection is down,
 * however many other links the node has: the user asked for it. A link that
 * dropped within `STABLE_MS` counts as a failed dial, so a peer that hangs
 * up at once is not redialled in a tight loop.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'

/** A link that lasted this long was no flap: when it drops, the peer is dialled again at once. */
export const STABLE_MS = 30_000

export interface PinnedInit {
  log: Logger
  /** Ends the loop. */
  signal: AbortSignal
  /** The wait after `failures` failures in a row. */
  backoff: (failures: number) => number
  /** The peer `target` reached (each time it connects). */
  reached: (peer: PeerId) => void
}

/** Keeps `target` connected until `init.signal` aborts. */
export async function keepConnected (libp2p: Libp2p, target: Multiaddr, init: PinnedInit): Promise<void> {
  const { signal } = init
  let failures = 0
  let peer: PeerId | undefined
  let since = 0
  while (!signal.aborted) {
    try {
      if (peer != null && libp2p.getConnections(peer).length > 0) {
        await disconnected(libp2p, peer, signal)
        // a link that lasted is redialled at once; one the peer hung up on soon counts as a failure, as for members
        if (Date.now() - since >= STABLE_MS) failures = 0
        else await sleep(init.backoff(++failures), undefined, { signal }).catch(() => {})
        continue
      }
      const connection = await libp2p.dial(target, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })
      init.log.info({ target: target.toString(), peer: connection.remotePeer.toString() }, 'connected to peer')
      peer = connection.remotePeer
      init.reached(peer)
      since = Date.now()
    } catch (err) {
      if (signal.aborted) return
      const wait = init.backoff(++failures)
      init.log.warn({ target: target.toString(), err: (err as Error).message, retryInMs: wait }, 'cannot reach peer; will retry')
      await sleep(wait, undefined, { signal }).catch(() => {})
    }
  }
}

/** Resolves once `peer` disconnects, or `signal` aborts. */
async function disconnected (libp2p: Libp2p, peer: PeerId, signal: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => {
      libp2p.removeEventListener('peer:disconnect', onDisconnect)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const onDisconnect = (event: CustomEvent<PeerId>): void => { if (event.detail.equals(peer)) done() }
    libp2p.addEventListener('peer:disconnect', onDisconnect)
    signal.addEventListener('abort', done)
  })
}
