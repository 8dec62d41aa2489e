/**
 * Notices a dead connection within seconds, and cheaply.
 *
 * libp2p's connection monitor opens a stream on every connection for every
 * ping: a multistream-select negotiation, a 32-byte echo and a close, about
 * ten frames each way, from both ends. Idle, that was most of a node's
 * traffic and a good part of its CPU. Here each connection's muxer sends one
 * yamux ping frame instead and waits for its pong; a connection whose pong
 * does not come within the timeout is aborted, and the dialer's redial and
 * the pull on reconnect take it from there. A pong is queued behind whatever
 * the peer is sending, and on a slow link that is many seconds of sync pages
 * (20 KB/s: ~30 s behind a 600 KB frame), which aborted every connection
 * that carried a catch-up, again and again: so while bytes keep arriving on
 * a TCP connection (`bytesReadOf`) it is alive, pong or not, and the ping
 * waits on (a pong that comes after its ping was given up would break the
 * muxer). A
 * connection whose muxer has no ping (none but yamux is configured) is left
 * alone.
 */
import type { Connection, Startable } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Logger } from 'pino'

/** How long a pong may take before the connection counts as dead, by default; pings go every half of it. */
export const PING_TIMEOUT_MS = 10_000

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

/**
 * Bytes read so far from a connection's TCP socket: what the peer sent,
 * which says it is alive (bytes this node wrote say nothing: its kernel takes
 * them whether or not the peer is there). A node sending a catch-up hears
 * its peer's window updates, one every half window (128 KiB). libp2p keeps
 * the socket on the connection, outside its public type; undefined on other
 * transports (a relayed connection).
 */
function bytesReadOf (connection: Connection): number | undefined {
  const read = (connection as unknown as { maConn?: { socket?: { bytesRead?: unknown } } }).maConn?.socket?.bytesRead
  return typeof read === 'number' ? read : undefined
}

function pingerOf (connection: Connection): Pinger | undefined {
  const muxer = (connection as unknown as { muxer?: Partial<Pinger> }).muxer
  return typeof muxer?.ping === 'function' ? muxer as Pinger : undefined
}

export class ConnectionPings implements Startable {
  private timer?: NodeJS.Timeout
  /**
   * Each ping in flight, by connection: its controller is held here, not only
   * by listeners (a signal made by `AbortSignal.any` or `.timeout` that nothing
   * holds can be collected before it fires, and the ping would never end).
   */
  private readonly inFlight = new Map<string, AbortController>()

  constructor (private readonly components: ConnectionPingsComponents, private readonly init: ConnectionPingsInit) {}

  private running = false

  start (): void {
    this.running = true
    this.timer = setInterval(() => { this.check() }, this.init.intervalMs ?? 5_000)
    this.timer.unref()
  }

  stop (): void {
    this.running = false
    clearInterval(this.timer)
    for (const controller of this.inFlight.values()) controller.abort()
    this.inFlight.clear()
  }

  /** Pings every open connection that has no ping in flight. */
  check (): void {
    for (const connection of this.components.connectionManager.getConnections()) {
      const pinger = pingerOf(connection)
      if (connection.status !== 'open' || pinger == null || this.inFlight.has(connection.id)) continue
      const controller = new AbortController()
      this.inFlight.set(connection.id, controller)
      const timeoutMs = this.init.timeoutMs ?? 10_000
      const sent = Date.now()
      let read = bytesReadOf(connection)
      const expire = (): void => {
        const now = bytesReadOf(connection)
        if (read !== undefined && now !== undefined && now > read) {
          read = now
          timer = setTimeout(expire, timeoutMs)
          return
        }
        controller.abort(new Error(`no pong within ${Date.now() - sent} ms, and nothing received in the last ${timeoutMs} ms`))
      }
      let timer = setTimeout(expire, timeoutMs)
      pinger.ping({ signal: controller.signal })
        .then(rtt => { connection.rtt = rtt })
        .catch((err: Error) => {
          if (!this.running || connection.status !== 'open') return
          this.init.log.info({ peer: connection.remotePeer.toString(), err: err.message }, 'no answer to a ping; closing the connection')
          connection.abort(err)
        })
        .finally(() => {
          clearTimeout(timer)
          if (this.inFlight.get(connection.id) === controller) this.inFlight.delete(connection.id)
        })
    }
  }
}

export function connectionPings (init: ConnectionPingsInit): (components: ConnectionPingsComponents) => ConnectionPings {
  return components => new ConnectionPings(components, init)
}
