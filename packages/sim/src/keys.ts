/**
 * Keys for simulated nodes. Production signs with Ed25519 (about 90 µs to
 * sign and check a batch); a simulation checks millions of batches, so here a
 * "signature" is an HMAC-SHA256 under a secret only its node holds. It has
 * the property the replica relies on — no node can sign as another — and the
 * replica sees it only through the same `sign`/`verify` functions. Secrets
 * come from the seed, so a run replays exactly.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export class SimKeys {
  private readonly seed: number
  private readonly secrets = new Map<string, Buffer>()

  constructor (seed: number) {
    this.seed = seed
  }

  signer (origin: string): (payload: Uint8Array) => Uint8Array {
    const secret = this.secret(origin)
    return payload => createHmac('sha256', secret).update(payload).digest()
  }

  readonly verify = (origin: string, payload: Uint8Array, sig: Uint8Array): boolean => {
    if (sig.length !== 32) return false
    const expected = createHmac('sha256', this.secret(origin)).update(payload).digest()
    return timingSafeEqual(expected, sig)
  }

  private secret (origin: string): Buffer {
    let secret = this.secrets.get(origin)
    if (secret === undefined) this.secrets.set(origin, (secret = createHmac('sha256', `murmur-sim-${this.seed}`).update(origin).digest()))
    return secret
  }
}
