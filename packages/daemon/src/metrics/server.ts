/**
 * `--metrics`: a plain HTTP server answering `GET /metrics` with the node's
 * metrics in Prometheus text format, and nothing else.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { formatHostPort, type MetricsAddress } from './address.js'
import type { Logger } from 'pino'

export interface MetricsSource {
  text: () => Promise<string>
  contentType: string
}

/** The metrics address cannot be listened on: in use, or not this host's. */
export class MetricsListenError extends Error {
  static override name = 'MetricsListenError'
  override name = 'MetricsListenError'
}

export class MetricsServer {
  private readonly source: MetricsSource
  private readonly address: MetricsAddress
  private readonly log: Logger
  private server?: Server

  constructor (source: MetricsSource, address: MetricsAddress, log: Logger) {
    this.source = source
    this.address = address
    this.log = log
  }

  /** Listens; rejects with a `MetricsListenError` that says what to change. */
  async listen (): Promise<void> {
    // node:http (and what it loads) costs a node without --metrics ~0.5 MB: loaded only here
    const { createServer } = await import('node:http')
    const server = createServer((request, response) => { this.handle(request, response) })
    // a scrape is one small request: a client that dawdles is cut off
    server.headersTimeout = 10_000
    server.requestTimeout = 10_000
    server.keepAliveTimeout = 65_000
    const { host, port } = this.address
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => { reject(new MetricsListenError(describe(err, formatHostPort(host, port)))) })
      server.listen(port, host, () => { resolve() })
    })
    server.on('error', err => { this.log.warn({ err: err.message }, 'metrics server error') })
    this.server = server
  }

  /** The URL scraped, with the port actually bound (for port 0). */
  get url (): string {
    const bound = this.server?.address()
    const port = bound != null && typeof bound === 'object' ? bound.port : this.address.port
    return `http://${formatHostPort(this.address.host, port)}/metrics`
  }

  async close (): Promise<void> {
    const server = this.server
    if (server == null) return
    this.server = undefined
    const closed = new Promise<void>(resolve => server.close(() => { resolve() }))
    server.closeAllConnections()
    await closed
  }

  private handle (request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '').split('?')[0]
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('murmurd serves only /metrics\n')
      return
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('use GET\n')
      return
    }
    this.source.text().then(text => {
      response.writeHead(200, { 'content-type': this.source.contentType }).end(request.method === 'HEAD' ? undefined : text)
    }, (err: Error) => {
      this.log.error({ err }, 'cannot collect metrics')
      response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`cannot collect metrics: ${err.message}\n`)
    })
  }
}

function describe (err: NodeJS.ErrnoException, where: string): string {
  if (err.code === 'EADDRINUSE') return `cannot serve metrics on ${where}: address in use; choose another --metrics port, or 0 for any free port`
  if (err.code === 'EADDRNOTAVAIL') return `cannot serve metrics on ${where}: not an address of this host; check --metrics`
  if (err.code === 'EACCES') return `cannot serve metrics on ${where}: permission denied (ports below 1024 need privileges); choose another --metrics port`
  return `cannot serve metrics on ${where}: ${err.message}`
}
