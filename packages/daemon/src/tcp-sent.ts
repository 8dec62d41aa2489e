/**
 * What this node has sent on a connection's TCP socket that its peer has not
 * acknowledged yet, and how much it has acknowledged so far: news of a peer
 * whose own bytes are few (a node sending it a catch-up over a slow link
 * hears a window update every 128 KiB, over 10 s apart below ~13 KB/s, and
 * its pings wait behind the pages it sends).
 *
 * Node tells what the socket handed its kernel (`_bytesDispatched`, less what
 * libuv still queues, `writeQueueSize`: internals, the same on Node 20, 22
 * and 24); Linux tells what the kernel has not had acknowledged (the send
 * queue of the socket's line in /proc/net/tcp or tcp6). Their difference is
 * what the peer acknowledged. Read only for a connection whose pong is late,
 * and the /proc files at most twice a second for all of them.
 */
import { readFileSync } from 'node:fs'
import type { Connection } from '@libp2p/interface'

/**
 * Bytes read so far from a connection's TCP socket: what the peer sent,
 * which says it is alive (bytes this node wrote say nothing: its kernel takes
 * them whether or not the peer is there). A node sending a catch-up hears
 * its peer's window updates, one every half window (128 KiB) (connection-pings.ts);
 * a serve waiting for a hello queued behind its puller's other streams, their bytes (sync/framed.ts). libp2p keeps
 * the socket on the connection, outside its public type; undefined on other
 * transports (a relayed connection).
 */
export function bytesReadOf (connection: Connection): number | undefined {
  const read = (connection as unknown as { maConn?: { socket?: { bytesRead?: unknown } } }).maConn?.socket?.bytesRead
  return typeof read === 'number' ? read : undefined
}

/**
 * Bytes that have moved on `connection` so far: read from the peer, and sent
 * and acknowledged by its TCP. A puller's hello can queue behind the pages
 * this node sends the same peer on a slow link (32 s behind 256 KiB at
 * 8 KB/s): while they drain, its hello is on its way, and the server's
 * answer cannot have begun. Undefined on other transports.
 */
export function bytesMovedOf (connection: Connection): number | undefined {
  const read = bytesReadOf(connection)
  if (read === undefined) return undefined
  return read + (sentOf(connection)?.acknowledged ?? 0)
}

/**
 * Bytes sent and not acknowledged that make a backlog (`Sent.waiting`): a link
 * this node keeps full holds tens of KiB or more in its kernel's queue,
 * while one cut under a quiet connection holds only what went out since (its
 * pings, gossip heartbeats: well under this in the 10 s a pong may take), and
 * must still be noticed within that timeout.
 */
export const BACKLOG_BYTES = 16 * 1024

export interface Sent {
  /** Bytes the peer's TCP has acknowledged so far (undefined where the kernel's send queue cannot be read). */
  acknowledged?: number
  /** Whether bytes wait: in Node's or libuv's queue, or over `BACKLOG_BYTES` sent and not acknowledged. */
  waiting: boolean
}

interface Socket {
  _bytesDispatched?: unknown
  _handle?: { writeQueueSize?: unknown } | null
  writableLength?: unknown
  localPort?: unknown
  remotePort?: unknown
}

/** What `connection`'s TCP socket has sent and has waiting; undefined on other transports (a relayed connection) or where Node's internals are missing. */
export function sentOf (connection: Connection): Sent | undefined {
  const socket = (connection as unknown as { maConn?: { socket?: Socket } }).maConn?.socket
  const dispatched = socket?._bytesDispatched
  const queued = socket?._handle?.writeQueueSize
  if (typeof dispatched !== 'number' || typeof queued !== 'number') return undefined
  const unsent = queued > 0 || (typeof socket?.writableLength === 'number' && socket.writableLength > 0)
  const unacknowledged = typeof socket?.localPort === 'number' && typeof socket.remotePort === 'number'
    ? sendQueues().get(`${socket.localPort}:${socket.remotePort}`)
    : undefined
  if (unacknowledged === undefined) return { waiting: unsent }
  return { acknowledged: dispatched - queued - unacknowledged, waiting: unsent || unacknowledged > BACKLOG_BYTES }
}

let cached: { at: number, queues: Map<string, number> } | undefined

/** The port of a /proc/net/tcp address (hex address:hex port). */
function port (address: string): number {
  return parseInt(address.slice(address.lastIndexOf(':') + 1), 16)
}

/** Each established TCP socket's send queue in this network namespace, by `localPort:remotePort`. */
function sendQueues (): Map<string, number> {
  const now = performance.now()
  if (cached !== undefined && now - cached.at < 500) return cached.queues
  const queues = new Map<string, number>()
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string
    try {
      text = readFileSync(file, 'latin1')
    } catch {
      continue
    }
    // sl local_address rem_address st tx_queue:rx_queue ...; addresses as hex address:port, st 01 established
    for (const line of text.split('\n').slice(1)) {
      const [, local, remote, state, queue] = line.trim().split(/\s+/)
      if (local === undefined || remote === undefined || state !== '01' || queue === undefined) continue
      queues.set(`${port(local)}:${port(remote)}`, parseInt(queue.slice(0, queue.indexOf(':')), 16))
    }
  }
  cached = { at: now, queues }
  return queues
}
