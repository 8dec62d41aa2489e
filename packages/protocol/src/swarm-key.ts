/**
 * The swarm key file: a group's pre-shared key for a libp2p private network,
 * in the standard text format every libp2p implementation reads:
 *
 * ```
 * /key/swarm/psk/1.0.0/
 * /base16/
 * <64 hexadecimal digits>
 * ```
 *
 * `murmurctl keygen` writes it and `murmurd --swarm-key` reads it; both live
 * here so that neither needs the other (nor libp2p) to agree on the format.
 */

export const SWARM_KEY_BYTES = 32

const HEADER = '/key/swarm/psk/1.0.0/'
const CODEC = '/base16/'
const HEX_KEY = /^[0-9a-fA-F]{64}$/

/** A swarm key file that is not in the format above. */
export class SwarmKeyError extends Error {
  static override name = 'SwarmKeyError'
  override name = 'SwarmKeyError'
}

/** The key file for a 32-byte key. */
export function formatSwarmKey (key: Uint8Array): string {
  if (key.byteLength !== SWARM_KEY_BYTES) throw new RangeError(`a swarm key is ${SWARM_KEY_BYTES} bytes, not ${key.byteLength}`)
  return `${HEADER}\n${CODEC}\n${Buffer.from(key).toString('hex')}\n`
}

/**
 * The 32-byte key in a key file. Tolerates CRLF line ends and trailing blank
 * lines; anything else that differs from the format is an error naming what.
 */
export function parseSwarmKey (text: string): Uint8Array {
  const lines = text.split(/\r?\n/).map(line => line.trim())
  while (lines.length > 3 && lines[lines.length - 1] === '') lines.pop()
  const [header, codec, key] = lines
  if (header !== HEADER) throw new SwarmKeyError(`the first line must be ${HEADER}`)
  if (codec !== CODEC) throw new SwarmKeyError(`the second line must be ${CODEC} (the only key encoding supported)`)
  if (key == null || !HEX_KEY.test(key)) throw new SwarmKeyError('the third line must be the key: 64 hexadecimal digits (32 bytes)')
  if (lines.length > 3) throw new SwarmKeyError('unexpected text after the key')
  return Uint8Array.from(Buffer.from(key, 'hex'))
}
