/**
 * A stand-in murmurd for tests: a real Unix socket in a temp dir speaking
 * NDJSON JSON-RPC, answering each request from a test-supplied function.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LineDecoder, SUBSCRIPTION_NOTIFICATION, encodeFrame, type ChangeEvent, type WireError } from '@murmur/protocol'

export interface Request {
  method: string
  params: Record<string, unknown>
}

/** A result, an error, or `silent` (never answer); `after` runs once the answer, if any, is written. */
export interface Answer {
  result?: unknown
  error?: WireError
  silent?: boolean
  after?: (conn: FakeConnection) => void
}

export interface FakeConnection {
  notify: (subscription: string, event: ChangeEvent) => void
  end: () => void
}

export type Handler = (request: Request) => Answer

export interface FakeDaemon {
  path: string
  requests: Request[]
  close: () => Promise<void>
}

export async function startFakeDaemon (handler: Handler): Promise<FakeDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'murmurctl-'))
  const path = join(dir, 'murmurd.sock')
  const requests: Request[] = []
  const sockets = new Set<Socket>()
  const server = createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    serve(socket, request => {
      requests.push(request)
      return handler(request)
    })
  })
  await listen(server, path)
  return {
    path,
    requests,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

function serve (socket: Socket, handler: Handler): void {
  const decoder = new LineDecoder()
  const conn: FakeConnection = {
    notify: (subscription, result) => socket.write(encodeFrame({ jsonrpc: '2.0', method: SUBSCRIPTION_NOTIFICATION, params: { subscription, result } })),
    end: () => socket.end()
  }
  socket.on('data', chunk => {
    for (const line of decoder.push(chunk)) {
      const { id, method, params } = JSON.parse(line) as Request & { id: number }
      const answer = handler({ method, params })
      if (answer.silent !== true) {
        const body = answer.error != null ? { error: answer.error } : { result: answer.result ?? null }
        socket.write(encodeFrame({ jsonrpc: '2.0', id, ...body }))
      }
      answer.after?.(conn)
    }
  })
  socket.on('error', () => {})
}

async function listen (server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, resolve)
  })
}

/** Answers by method name from a table; an unknown method is a test bug, answered as MethodNotFound. */
export function byMethod (table: Record<string, (params: Record<string, unknown>) => Answer>): Handler {
  return ({ method, params }) => table[method]?.(params) ?? { error: { code: -32601, message: `no canned answer for ${method}`, data: { name: 'MethodNotFoundError' } } }
}

/** A version to put in canned answers. */
export const VERSION = { wall: 1732630000000, logical: 3, origin: '12D3KooWAlice', seq: 5 }
