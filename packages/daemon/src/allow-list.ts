/**
 * The allow-list: the peer IDs that may connect to this node. libp2p asks the
 * gater before every dial and again once a connection's remote peer is
 * authenticated by noise, in both directions, so a peer not on the list never
 * gets a muxer, a stream, or a gossip message.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { ConfigError } from './errors.js'
import type { ConnectionGater, PeerId } from '@libp2p/interface'

/** A peer ID in its canonical string form; `ConfigError` if it is not one. */
export function parsePeerId (text: string, where: string): string {
  try {
    return peerIdFromString(text).toString()
  } catch {
    throw new ConfigError(`invalid peer ID "${text}" in ${where}: expected e.g. 12D3KooW… (murmurctl status shows a node's id)`)
  }
}

/** An allow-list file: one peer ID per line; `#` starts a comment; blank lines are ignored. */
export function parseAllowFile (text: string, path: string): string[] {
  const ids: string[] = []
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    const id = line.replace(/#.*/, '').trim()
    if (id !== '') ids.push(parsePeerId(id, `${path} line ${i + 1}`))
  }
  return ids
}

/** Denies every connection and dial to a peer `allowed` refuses. */
export function allowListGater (allowed: (peer: string) => boolean): ConnectionGater {
  const deny = (peer: PeerId): boolean => !allowed(peer.toString())
  return {
    denyDialPeer: deny,
    denyOutboundConnection: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny,
    // addresses of peers we will never dial are not worth keeping
    filterMultiaddrForPeer: peer => allowed(peer.toString())
  }
}
