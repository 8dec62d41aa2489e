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
 * a TCP connection (`bytesReadOf`), or its peer's TCP keeps acknowledging
 * what this node sends (`sentOf`), it is alive, pong or not, and the ping
 * waits on (a pong that comes after its ping was given up would break the
 * muxer); while bytes wait to go, up to `SATURATED_GRACE` timeouts may pass
 * without news. A
 * connection whose muxer has no ping (none but yamux is configured) is left
 * alone.
 */
import type { Connection, Startable } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Logger } from 'pino'
import { bytesReadOf, sentOf } from './tcp-sent.js'

/**
 * Timeouts a connection may go without news while bytes wait to go on it:
 * over a link this node fills (a catch-up over cellular, 8 KB/s in
 * slow-link-acks.spec), the queue ahead of the bottleneck holds seconds of
 * bytes, its retransmission timeout grows to ~10 s, and after a loss nothing
 * at all comes back for that long. A dead peer with bytes waiting is noticed
 * within this many timeouts.
 */
export const SATURATED_GRACE = 3

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
 * Whether the peer showed itself alive since the last look (`seen`, which
 * this updates): bytes arrived from it, or its TCP acknowledged more of what
 * this node sent (tcp-sent.ts); and whether bytes wait to go to it.
 */
function heardFrom (connection: Connection, seen: { read?: number, acknowledged?: number, waiting?: boolean }): boolean {
  const read = bytesReadOf(connection)
  const sent = sentOf(connection)
  const arrived = read !== undefined && seen.read !== undefined && read > seen.read
  const acknowledged = sent?.acknowledged !== undefined && seen.acknowledged !== undefined && sent.acknowledged > seen.acknowledged
  seen.read = read
  seen.acknowledged = sent?.acknowledged
  seen.waiting = sent?.waiting
  return arrived || acknowledged
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
      // the socket's sends are looked at only once a pong is late (tcp-sent.ts reads /proc)
      const seen: { read?: number, acknowledged?: number, waiting?: boolean } = { read: bytesReadOf(connection) }
      let news = sent
      const expire = (): void => {
        const now = Date.now()
        if (heardFrom(connection, seen)) news = now
        // a link this node keeps full may go quiet for a retransmission timeout or two (seconds each,
        // when its queue holds seconds of bytes), so while a backlog waits to go it has `SATURATED_GRACE` timeouts
        const grace = seen.waiting === true ? SATURATED_GRACE * timeoutMs : timeoutMs
        if (now - news < grace) {
          timer = setTimeout(expire, Math.min(timeoutMs, grace - (now - news)))
          return
        }
        controller.abort(new Error(`no pong within ${now - sent} ms, and nothing received in the last ${now - news} ms`))
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
