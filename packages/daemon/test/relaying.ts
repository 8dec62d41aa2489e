/**
 * For tests of the group relay: a member's ticket and relayed address, and
 * circuit relay v2's hop protocol written out by hand, to ask a relay for a
 * reservation as a bare libp2p peer would (the package exports no codec for
 * its messages).
 */
import assert from 'node:assert/strict'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from 'libp2p'
import { waitFor, type TestNode } from './harness.js'

export async function ticketOf (node: TestNode): Promise<string> {
  const result = await node.ctl(['invite'])
  assert.equal(result.code, 0, result.stderr)
  return result.stdout.trim()
}

/** The node's relayed address through `relay`, once it holds a reservation there. */
export async function relayedAddr (node: TestNode, relay: string, timeoutMs = 15_000): Promise<string> {
  return await waitFor(async () => {
    const status = await node.status()
    return status.reach.relays.includes(relay) ? status.addrs.find((a: string) => a.includes(`/p2p/${relay}/p2p-circuit`)) : undefined
  }, `${node.name} to hold a reservation on the relay`, timeoutMs)
}

/** Circuit relay v2's HopMessage { type: RESERVE } (field 1, varint 0), written out: the package exports no codec for it. */
export const RESERVE = Uint8Array.of(0x08, 0x00)
/** HopMessage.status (field 5) of a reply, or undefined; `OK` is 100. */
export function hopStatus (reply: Uint8Array): number | undefined {
  const varint = (at: number): [number, number] => {
    let value = 0
    for (let shift = 0; ; shift += 7) {
      const byte = reply[at++] as number
      value += (byte & 0x7f) * 2 ** shift
      if (byte < 0x80) return [value, at]
    }
  }
  for (let at = 0; at < reply.length;) {
    const [tag, next] = varint(at)
    if ((tag & 7) === 0) {
      const [value, after] = varint(next)
      if (tag >> 3 === 5) return value
      at = after
    } else if ((tag & 7) === 2) {
      const [length, after] = varint(next)
      at = after + length
    } else throw new Error(`unexpected wire type in a HopMessage: ${tag & 7}`)
  }
  return undefined
}

/** `OK` and `RESERVATION_REFUSED` of HopMessage.status. */
export const HOP_OK = 100
export const HOP_RESERVATION_REFUSED = 200

/** Asks the relay at `addr` for a reservation; resolves to the status of its answer. */
export async function reserve (node: Libp2p, addr: string): Promise<number | undefined> {
  const stream = await node.dialProtocol(multiaddr(addr), RELAY_V2_HOP_CODEC)
  const lp = lpStream(stream)
  await lp.write(RESERVE)
  const status = hopStatus((await lp.read()).subarray())
  await stream.close()
  return status
}
