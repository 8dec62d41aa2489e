/**
 * A lean NDJSON JSON-RPC 2.0 client for murmurd's Unix socket.
 *
 * The bench uses its own client instead of `MurmurClient` so that the load
 * generator spends as little CPU per message as possible and can stamp every
 * incoming line with the time its chunk was read (one clock for both ends of a
 * propagation measurement).
 */
import { connect } from 'node:net'
import { performance } from 'node:perf_hooks'

export class RpcError extends Error {
  constructor (error) {
    super(`${error.data?.name ?? 'RpcError'} (${error.code}): ${error.message}`)
    this.code = error.code
    this.data = error.data
  }
}

export class RpcClient {
  /** Connects to a daemon socket; rejects on error or after `timeoutMs`. */
  static async connect (path, { timeoutMs = 2_000 } = {}) {
    return await new Promise((resolve, reject) => {
      const socket = connect(path)
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`connect to ${path} timed out`)) }, timeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(new RpcClient(socket))
      })
      socket.once('error', err => { clearTimeout(timer); reject(err) })
    })
  }

  constructor (socket) {
    this.socket = socket
    this.pending = new Map()
    this.nextId = 1
    this.closed = false
    /** Called with (params, receivedAt) for every `kv_subscription` notification. */
    this.onNotification = null
    let rest = ''
    socket.setEncoding('utf8') // a StringDecoder: multi-byte characters split across chunks stay whole
    socket.on('data', chunk => {
      const now = performance.now()
      const text = rest + chunk
      let start = 0
      let end = text.indexOf('\n')
      while (end !== -1) {
        if (end > start) this.onLine(text.slice(start, end), now)
        start = end + 1
        end = text.indexOf('\n', start)
      }
      rest = text.slice(start)
    })
    socket.on('error', () => { /* 'close' follows */ })
    socket.on('close', () => {
      this.closed = true
      const err = new Error('connection to murmurd closed')
      for (const { reject } of this.pending.values()) reject(err)
      this.pending.clear()
    })
  }

  /** Sends one request; resolves to its result, rejects with `RpcError`. */
  async call (method, params = {}) {
    if (this.closed) throw new Error('connection to murmurd closed')
    const id = this.nextId++
    const promise = new Promise((resolve, reject) => { this.pending.set(id, { resolve, reject }) })
    this.socket.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n')
    return await promise
  }

  /** Sends calls as one JSON-RPC batch (one line); resolves once every answer arrived. Rejects on the first error. */
  async batch (calls) {
    if (this.closed) throw new Error('connection to murmurd closed')
    const requests = calls.map(({ method, params }) => ({ jsonrpc: '2.0', id: this.nextId++, method, params }))
    const promises = requests.map(r => new Promise((resolve, reject) => { this.pending.set(r.id, { resolve, reject }) }))
    this.socket.write(JSON.stringify(requests) + '\n')
    return await Promise.all(promises)
  }

  close () {
    this.closed = true
    this.socket.destroy()
  }

  onLine (line, now) {
    const message = JSON.parse(line)
    if (Array.isArray(message)) {
      for (const response of message) this.settle(response)
    } else if (message.method === 'kv_subscription') {
      this.onNotification?.(message.params, now)
    } else {
      this.settle(message)
    }
  }

  settle (response) {
    const entry = this.pending.get(response.id)
    if (entry == null) return
    this.pending.delete(response.id)
    if (response.error != null) entry.reject(new RpcError(response.error))
    else entry.resolve(response.result)
  }
}
