/**
 * Fewer system calls and frames per gossip message, measured on a writer
 * with two peers (strace, CPU profiles):
 *
 * - `@libp2p/tcp` 11 gives each chunk of a send its own `socket.write`, and
 *   noise 17 hands it two chunks per frame (the 2-byte length, then the
 *   ciphertext): two `write` calls for every message to every peer, each a
 *   trip through the loopback TCP stack (a fifth of a writer's busy time).
 *   `oneWritePerSend` corks the socket around a send, so Node writes its
 *   chunks with one `writev`. Nothing is delayed: the socket is uncorked
 *   before the send returns.
 * - yamux 8 answers every data frame with a window update (the receive
 *   window is topped up as soon as a byte of it is used), so every gossip
 *   message costs its receiver a frame back (encrypted, written, read,
 *   decrypted, parsed). `windowUpdatesAtHalf` sends one only once half the
 *   window is used, as go-yamux does; the sender never runs dry while its
 *   peer keeps reading, and a paused reader (sync/framed.ts) still holds the
 *   sender back.
 */
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import type { tcp } from '@libp2p/tcp'
import type { MultiaddrConnection, Upgrader } from '@libp2p/interface'
import type { Socket } from 'node:net'

type TcpTransportFactory = ReturnType<typeof tcp>

/** `tcp(init)`, whose connections write each send with one system call. */
export function oneWritePerSend (factory: TcpTransportFactory): TcpTransportFactory {
  return components => {
    const transport = factory(components)
    const dial = transport.dial.bind(transport)
    const createListener = transport.createListener.bind(transport)
    transport.dial = async (ma, options) => await dial(ma, { ...options, upgrader: corking(options.upgrader) })
    transport.createListener = options => createListener({ ...options, upgrader: corking(options.upgrader) })
    return transport
  }
}

/** An upgrader that corks each raw TCP connection before handing it to `upgrader`. */
function corking (upgrader: Upgrader): Upgrader {
  return {
    upgradeInbound: async (maConn: MultiaddrConnection, opts: Parameters<Upgrader['upgradeInbound']>[1]) => { cork(maConn); await upgrader.upgradeInbound(maConn, opts) },
    upgradeOutbound: async (maConn: MultiaddrConnection, opts: Parameters<Upgrader['upgradeOutbound']>[1]) => { cork(maConn); return await upgrader.upgradeOutbound(maConn, opts) },
    createInboundAbortSignal: signal => upgrader.createInboundAbortSignal(signal),
    getStreamMuxers: () => upgrader.getStreamMuxers(),
    getConnectionEncrypters: () => upgrader.getConnectionEncrypters()
  }
}

interface TcpConnection { socket?: Socket, sendData?: (data: { bufs: unknown[] }) => unknown }

function cork (maConn: MultiaddrConnection): void {
  const conn = maConn as unknown as TcpConnection
  const socket = conn.socket
  const sendData = conn.sendData
  if (socket === undefined || typeof sendData !== 'function') return // not the TCP connection this was written for: left as it is
  conn.sendData = data => {
    if (data.bufs.length < 2) return sendData.call(conn, data)
    socket.cork()
    try {
      return sendData.call(conn, data)
    } finally {
      socket.uncork()
    }
  }
}

let patched = false

/** Makes every yamux stream send a window update once half its receive window is used, not after every frame. */
export function windowUpdatesAtHalf (): void {
  if (patched) return
  patched = true
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate: (this: WindowState) => void }
  const everyFrame = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: WindowState) {
    // an established stream with more than half its window left needs no update yet; anything else
    // (a stream being opened, whose update carries its SYN or ACK flag, or a paused one) goes as before
    if (this.state === StreamState.Established && this.recvWindowCapacity * 2 > this.recvWindow) return
    everyFrame.call(this)
  }
}

interface WindowState { state: StreamState, recvWindow: number, recvWindowCapacity: number }
