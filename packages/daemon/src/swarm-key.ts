/**
 * The group's swarm key: a libp2p private network. Every connection is
 * XSalsa20-encrypted with the pre-shared key before noise even starts, so a
 * peer without the key cannot complete a handshake, learn a peer ID, or open
 * a stream. Noise still authenticates and encrypts every connection on top.
 */
import { readFileSync } from 'node:fs'
import { formatSwarmKey, parseSwarmKey, SwarmKeyError } from '@murmur/protocol'
import { ConfigError } from './errors.js'
import type { ConnectionProtector } from '@libp2p/interface'

/** Reads a swarm key file (as `murmurctl keygen` writes it); a bad or unreadable file is a `ConfigError`. */
export function readSwarmKey (path: string): Uint8Array {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read swarm key ${path}: ${(err as Error).message.replace(/, \w+ '.*'$/, '')}`)
  }
  try {
    return parseSwarmKey(text)
  } catch (err) {
    if (!(err instanceof SwarmKeyError)) throw err
    throw new ConfigError(`swarm key ${path} is malformed: ${err.message}; make one with: murmurctl keygen <file>`)
  }
}

/** libp2p's connection protector for a 32-byte swarm key (@libp2p/pnet is loaded only for a closed group). */
export async function swarmKeyProtector (key: Uint8Array): Promise<() => ConnectionProtector> {
  const { preSharedKey } = await import('@libp2p/pnet')
  return preSharedKey({ psk: new TextEncoder().encode(formatSwarmKey(key)) })
}
