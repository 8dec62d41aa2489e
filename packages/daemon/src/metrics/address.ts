/**
 * Where `--metrics` serves: `<port>` alone is 127.0.0.1, so the metrics stay
 * on this host unless the operator writes another address. Any other host
 * must be an IP address, written out: a loopback one, a specific interface's,
 * or 0.0.0.0 / [::] for all of them. A host name is refused, since what it
 * resolves to (and so who can read the metrics) could change under the
 * operator; `localhost` is taken as 127.0.0.1.
 */
import { isIP } from 'node:net'
import { ConfigError } from '../errors.js'

export interface MetricsAddress {
  /** An IP address, IPv6 without brackets. */
  host: string
  /** 0: any free port. */
  port: number
}

const EXAMPLES = 'expected <port> (served on 127.0.0.1, e.g. 9464) or <ip>:<port> (e.g. 127.0.0.1:9464, [::1]:9464, or 0.0.0.0:9464 for every interface)'

export function parseMetricsAddress (flag: string, value: string): MetricsAddress {
  const refuse = (why: string): never => { throw new ConfigError(`invalid ${flag} "${value}": ${why}; ${EXAMPLES}`) }
  const text = value.trim()
  if (text === '') refuse('it is empty')
  if (/^:?\d+$/.test(text)) return { host: '127.0.0.1', port: port(text.replace(/^:/, ''), refuse) }
  const bracketed = /^\[([^\]]*)\]:(\d+)$/.exec(text)
  if (bracketed != null) {
    const host = bracketed[1] as string
    if (isIP(host) !== 6) refuse(`"${host}" is not an IPv6 address`)
    return { host, port: port(bracketed[2] as string, refuse) }
  }
  const at = text.lastIndexOf(':')
  if (at < 0) refuse('no port')
  const host = text.slice(0, at)
  if (host.includes(':')) refuse('write an IPv6 address in brackets')
  if (!/^\d+$/.test(text.slice(at + 1))) refuse('the port is not a number')
  const portNumber = port(text.slice(at + 1), refuse)
  if (host === 'localhost') return { host: '127.0.0.1', port: portNumber }
  if (isIP(host) !== 4) refuse(`"${host}" is not an IP address (a host name could resolve to an address open to others)`)
  return { host, port: portNumber }
}

function port (digits: string, refuse: (why: string) => never): number {
  const n = Number(digits)
  if (!Number.isSafeInteger(n) || n > 65535) refuse('the port must be 0 to 65535')
  return n
}

/** Whether `host` (an IP address) can be reached only from this machine. */
export function isLoopbackHost (host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.')
  const lower = host.toLowerCase()
  return lower === '::1' || lower.startsWith('::ffff:127.')
}

/** `host:port` as a URL host (IPv6 in brackets). */
export function formatHostPort (host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
}
