/**
 * What a TCP socket has sent that its peer has not acknowledged (tcp-sent.ts),
 * on real sockets over 127.0.0.1: Node's internals and Linux's
 * /proc/net/tcp read together, as a connection's pings read them once a pong
 * is late. A peer that stops reading stops acknowledging once its kernel's
 * buffer is full; once it reads again, the acknowledged count moves.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Connection } from '@libp2p/interface'
import { sentOf } from '../src/tcp-sent.js'
import { waitFor } from './harness.js'

let server: Server
let peer: Socket
let socket: Socket

/** A libp2p connection as tcp-sent.ts sees one: its TCP socket. */
const connection = (): Connection => ({ maConn: { socket } }) as unknown as Connection

before(async () => {
  server = createServer(s => { peer = s; s.pause() })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  await waitFor(() => peer !== undefined, 'the server to take the connection')
})

after(async () => {
  socket?.destroy()
  peer?.destroy()
  server?.close()
})

test('an idle socket has nothing waiting, and all it sent acknowledged', async () => {
  socket.write('hello')
  const sent = await waitFor(() => { const s = sentOf(connection()); return s?.acknowledged === 5 ? s : undefined }, 'the hello to be acknowledged')
  assert.equal(sent.waiting, false)
})

test('while the peer reads nothing, bytes wait and the acknowledged count stops; once it reads, the count moves', async () => {
  const chunk = Buffer.alloc(1024 * 1024)
  // more than both kernels' buffers hold on loopback: the rest waits in Node's queue
  for (let i = 0; i < 16; i++) socket.write(chunk)
  const stuck = await waitFor(() => {
    const s = sentOf(connection())
    return s?.waiting === true && s.acknowledged !== undefined ? s : undefined
  }, 'bytes to wait')
  await sleep(300)
  const later = sentOf(connection())
  assert.equal(later?.waiting, true)
  assert.ok(later?.acknowledged !== undefined && stuck.acknowledged !== undefined && later.acknowledged - stuck.acknowledged < 1024 * 1024, 'a peer that reads nothing acknowledges at most what its buffer still had room for')
  peer.resume()
  await waitFor(() => { const s = sentOf(connection()); return s?.acknowledged !== undefined && later.acknowledged !== undefined && s.acknowledged > later.acknowledged + 4 * 1024 * 1024 }, 'the acknowledged count to move once the peer reads')
  await waitFor(() => sentOf(connection())?.waiting === false, 'nothing left waiting once the peer read it all', 15_000)
  assert.equal(sentOf(connection())?.acknowledged, 5 + 16 * chunk.length)
})

test('a socket without Node\'s internals (another transport) says nothing', () => {
  assert.equal(sentOf({ maConn: {} } as unknown as Connection), undefined)
})
