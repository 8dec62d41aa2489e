/**
 * Keys starting with U+0000 are murmur's own records, replicated like any
 * other key but never written, listed or counted as user data. The only one
 * today is each member's attestation (see `attestation.ts`).
 */

export const RESERVED_PREFIX = '\u0000'
/** The lowest key a user may write: every key below it is reserved. */
export const USER_KEYS_FROM = '\u0001'
const ATTESTATION_PREFIX = `${RESERVED_PREFIX}attest/`

export function isReserved (key: string): boolean {
  return key.startsWith(RESERVED_PREFIX)
}

/** The key under which `origin` publishes its attestation; only `origin` may write it. */
export function attestationKey (origin: string): string {
  return ATTESTATION_PREFIX + origin
}

/** The origin whose attestation `key` holds, or undefined when it is no attestation key. */
export function attestationOwner (key: string): string | undefined {
  return key.startsWith(ATTESTATION_PREFIX) ? key.slice(ATTESTATION_PREFIX.length) : undefined
}
