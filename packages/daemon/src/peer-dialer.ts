/**
 * Keeps peers connected: the `--peer` addresses, dialled directly (so a bare
 * `/dns4/alice/tcp/4001` works, no `/p2p/<id>` needed), and the peer book's
 * members, dialled by peer ID; each is redialled with jittered exponential
 * backoff whenever its connection is down.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { rpcError } from '@murmur/protocol'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'

export interface PeerDialerInit {
  log: Logger
  /** @default 500 */
  minDelayMs?: number
  /** @default 30_000 */
  maxDelayMs?: number
}

export class PeerDialer {
  private readonly libp2p: Libp2p
  private readonly init: PeerDialerInit
  private readonly controller = new AbortController()
  private readonly loops: Array<Promise<void>> = []

  constructor (libp2p: Libp2p, init: PeerDialerInit) {
    this.libp2p = libp2p
    this.init = init
  }

  /** Keeps `target` connected until `stop()`. */
  add (target: Multiaddr | PeerId): void {
    this.loops.push(this.keepConnected(target))
  }

  async stop (): Promise<void> {
    this.controller.abort()
    await Promise.allSettled(this.loops)
  }

  private async keepConnected (target: Multiaddr | PeerId): Promise<void> {
    const { signal } = this.controller
    const min = this.init.minDelayMs ?? 500
    const max = this.init.maxDelayMs ?? 30_000
    let delay = min
    let peer: PeerId | undefined = 'toMultihash' in target ? target : undefined
    while (!signal.aborted) {
      try {
        if (peer != null && this.libp2p.getConnections(peer).length > 0) {
          await this.disconnected(peer)
          delay = min
          continue
        }
        const connection = await this.libp2p.dial(target, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })
        this.init.log.info({ target: target.toString(), peer: connection.remotePeer.toString() }, 'connected to peer')
        peer = connection.remotePeer
        delay = min
      } catch (err) {
        if (signal.aborted) return
        const wait = Math.round(delay * (0.5 + Math.random()))
        this.init.log.warn({ target: target.toString(), err: (err as Error).message, retryInMs: wait }, 'cannot reach peer; will retry')
        await sleep(wait, undefined, { signal }).catch(() => {})
        delay = Math.min(delay * 2, max)
      }
    }
  }

  private async disconnected (peer: PeerId): Promise<void> {
    await new Promise<void>(resolve => {
      const done = (): void => {
        this.libp2p.removeEventListener('peer:disconnect', onDisconnect)
        this.controller.signal.removeEventListener('abort', done)
        resolve()
      }
      const onDisconnect = (event: CustomEvent<PeerId>): void => { if (event.detail.equals(peer)) done() }
      this.libp2p.addEventListener('peer:disconnect', onDisconnect)
      this.controller.signal.addEventListener('abort', done)
    })
  }
}

/** Dials `addr` once (10 s at most), for `Murmur.connect`: a bad address is `InvalidParams`, a failed dial `Dial`. */
export async function dialOnce (libp2p: Libp2p, addr: string, signal?: AbortSignal): Promise<string> {
  let ma
  try {
    ma = multiaddr(addr)
  } catch (err) {
    throw rpcError('InvalidParams', `not a multiaddr: ${addr} (${(err as Error).message})`)
  }
  try {
    const connection = await libp2p.dial(ma, { signal: AbortSignal.any([AbortSignal.timeout(10_000), ...(signal != null ? [signal] : [])]) })
    return connection.remotePeer.toString()
  } catch (err) {
    throw rpcError('Dial', `cannot connect to ${addr}: ${(err as Error).message}`)
  }
}
