/**
 * Notices a dead connection within seconds, and cheaply.
 *
 * libp2p's connection monitor opens a stream on every connection for every
 * ping: a multistream-select negotiation, a 32-byte echo and a close, about
 * ten frames each way, from both ends. Idle, that was most of a node's
 * traffic and a good part of its CPU. Here each connection's muxer sends one
 * yamux ping frame instead and waits for its pong; a connection whose pong
 * does not come within the timeout is aborted, and the dialer's redial and
 * the pull on reconnect take it from there. The timeout is long enough for a
 * pong queued behind megabytes of sync pages. A connection whose muxer has
 * no ping (none but yamux is configured) is left alone.
 */
import type { Connection, Startable } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Logger } from 'pino'

export interface ConnectionPingsInit {
  log: Logger
  /** How often each connection is pinged. @default 5_000 */
  intervalMs?: number
  /** How long a pong may take before the connection counts as dead. @default 10_000 */
  timeoutMs?: number
}

interface ConnectionPingsComponents {
  connectionManager: ConnectionManager
}

/** What a yamux muxer offers (libp2p keeps it on the connection, outside its public type). */
interface Pinger {
  ping: (options: { signal: AbortSignal }) => Promise<number>
}

function pingerOf (connection: Connection): Pinger | undefined {
  const muxer = (connection as unknown as { muxer?: Partial<Pinger> }).muxer
  return typeof muxer?.ping === 'function' ? muxer as Pinger : undefined
}

export class ConnectionPings implements Startable {
  private timer?: NodeJS.Timeout
  private readonly inFlight = new Set<string>()
  private stopped = new AbortController()

  constructor (private readonly components: ConnectionPingsComponents, private readonly init: ConnectionPingsInit) {}

  start (): void {
    this.stopped = new AbortController()
    this.timer = setInterval(() => { this.check() }, this.init.intervalMs ?? 5_000)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.stopped.abort()
  }

  /** Pings every open connection that has no ping in flight. */
  check (): void {
    for (const connection of this.components.connectionManager.getConnections()) {
      const pinger = pingerOf(connection)
      if (connection.status !== 'open' || pinger == null || this.inFlight.has(connection.id)) continue
      this.inFlight.add(connection.id)
      const signal = AbortSignal.any([AbortSignal.timeout(this.init.timeoutMs ?? 10_000), this.stopped.signal])
      pinger.ping({ signal })
        .then(rtt => { connection.rtt = rtt })
        .catch((err: Error) => {
          if (this.stopped.signal.aborted || connection.status !== 'open') return
          this.init.log.info({ peer: connection.remotePeer.toString(), err: err.message }, 'no answer to a ping; closing the connection')
          connection.abort(err)
        })
        .finally(() => { this.inFlight.delete(connection.id) })
    }
  }
}

export function connectionPings (init: ConnectionPingsInit): (components: ConnectionPingsComponents) => ConnectionPings {
  return components => new ConnectionPings(components, init)
}
