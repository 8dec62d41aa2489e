/**
 * A connection's replay queue: a resumed subscription's replay (read from the
 * store a page a turn, however much was missed) and every notification after
 * it, sent a little at a time as the client reads them. Never more than half the unread limit waits in
 * the socket, so a client that reads is not dropped as one that does not;
 * a `Gate` holds the queue until the answer that starts the replay is out.
 */
import { encodeFrame } from '@murmur/protocol'
import type { Connection, ReplaySource } from './handlers.js'

/** An answer not sent yet: what queues behind it waits until it is `open`. */
export interface Gate { open: boolean, message?: unknown }

/** How the queue reaches the socket (the server's sending, with its limit). */
export interface QueueSender {
  maxUnreadBytes: () => number
  /** Sends a message, or a frame already encoded (a string). */
  send: (connection: Connection, message: unknown) => void
  sendTogether: (connection: Connection, message: unknown) => void
  /** The queue is empty: all of it was sent. */
  sent: (connection: Connection) => void
}

type Replaying = NonNullable<Connection['replaying']>

/** Queues `messages` (and gates) behind what already waits, and sends what it can. */
export function enqueue (sender: QueueSender, connection: Connection, messages: unknown[]): void {
  if (connection.replaying !== undefined) connection.replaying.queue.push(...messages)
  else {
    connection.replaying = { queue: messages, next: 0, waiting: 0 }
    pump(sender, connection)
  }
}

/**
 * Queues a live notification behind a replay, encoded so what waits is
 * counted: the bytes that now wait, which the caller bounds as unread output.
 */
export function queueBehind (replaying: Replaying, message: unknown): number {
  const frame = encodeFrame(message)
  replaying.waiting += frame.length
  replaying.queue.push(frame)
  return replaying.waiting
}

/** Sends what the queue holds until the socket is full (then again on drain) or a closed gate. */
export function pump (sender: QueueSender, connection: Connection): void {
  const replaying = connection.replaying
  if (replaying === undefined || replaying.turn === true) return
  const { socket } = connection
  let paged = false
  while (replaying.next < replaying.queue.length) {
    if (socket.destroyed) break
    if (socket.writableLength > sender.maxUnreadBytes() / 2) {
      socket.once('drain', () => { pump(sender, connection) })
      return
    }
    const item = replaying.queue[replaying.next]
    if (isGate(item) && !item.open) return // pumped again when it opens
    if (isSource(item)) {
      // a page a turn, sent before the next is read: a long replay never holds the event loop, nor more than a page
      if (paged) {
        replaying.turn = true
        setImmediate(() => { replaying.turn = false; pump(sender, connection) })
        return
      }
      const page = item.page()
      if (page !== undefined) {
        paged = true
        // in place of what was sent already, so the queue holds no more than a page and what waits behind it
        replaying.queue.splice(0, replaying.next, ...page)
        replaying.next = 0
        continue
      }
    }
    replaying.queue[replaying.next++] = undefined
    if (isGate(item)) {
      if (item.message !== undefined) sender.sendTogether(connection, item.message)
    } else if (!isSource(item)) {
      if (typeof item === 'string') replaying.waiting -= item.length
      sender.send(connection, item)
    }
  }
  connection.replaying = undefined
  sender.sent(connection)
}

function isSource (item: unknown): item is ReplaySource {
  return typeof item === 'object' && item !== null && 'page' in item
}

function isGate (item: unknown): item is Gate {
  return typeof item === 'object' && item !== null && 'open' in item
}
