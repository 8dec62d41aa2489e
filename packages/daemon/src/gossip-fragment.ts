/**
 * Keeps every gossipsub RPC this node sends small enough for its peers to read.
 *
 * Gossipsub answers an IWANT with every message asked for in one RPC. A node
 * that restarts within a few seconds of a burst is offered the burst's
 * messages by IHAVE and asks for all of them at once (up to 5,000): the
 * answer, dozens of batches of ops, is far over the receiver's limit on one
 * RPC (`maxInboundDataLength`), so the receiver's gossipsub throws away the
 * stream and forgets the peer while the connection stays up. Nothing is
 * published between the two until the connection is replaced (gossip-peers.ts),
 * and the restarted node's own writes travel only by anti-entropy meanwhile.
 * Splitting an RPC whose messages are over a budget into several, as
 * rust-libp2p does, keeps each under the limit; a lone message goes as it is
 * (its size is the publisher's, bounded by the largest op).
 */
import type { GossipSub } from '@libp2p/gossipsub'

/** The RPC fields this touches, as gossipsub's `RPC` type has them. */
interface Rpc {
  subscriptions: unknown[]
  messages: Array<{ data?: Uint8Array, topic: string, from?: Uint8Array, seqno?: Uint8Array, signature?: Uint8Array, key?: Uint8Array }>
  control?: unknown
}

type SendRpc = (id: string, rpc: Rpc) => boolean

/** Bytes of messages one RPC carries at most, unless it carries a single message. */
export const RPC_MESSAGE_BUDGET = 256 * 1024

/** An upper bound of a message's encoded size. */
function messageBytes (message: Rpc['messages'][number]): number {
  return 16 + (message.data?.length ?? 0) + message.topic.length * 3 + (message.from?.length ?? 0) +
    (message.seqno?.length ?? 0) + (message.signature?.length ?? 0) + (message.key?.length ?? 0)
}

/** Splits `messages` into runs of at most `budget` bytes (a message over it alone in its run). */
export function fragment<M extends Rpc['messages'][number]> (messages: M[], budget: number): M[][] {
  const runs: M[][] = []
  let run: M[] = []
  let bytes = 0
  for (const message of messages) {
    const size = messageBytes(message)
    if (run.length > 0 && bytes + size > budget) {
      runs.push(run)
      run = []
      bytes = 0
    }
    run.push(message)
    bytes += size
  }
  if (run.length > 0) runs.push(run)
  return runs
}

/** Makes `pubsub` send RPCs with more than `budget` bytes of messages as several. */
export function fragmentRpcs (pubsub: GossipSub, budget = RPC_MESSAGE_BUDGET): void {
  const target = pubsub as unknown as { sendRpc: SendRpc }
  const send = target.sendRpc.bind(pubsub) as SendRpc
  target.sendRpc = (id, rpc) => {
    if (rpc.messages.length < 2) return send(id, rpc)
    const runs = fragment(rpc.messages, budget)
    if (runs.length === 1) return send(id, rpc)
    // the first RPC keeps the subscriptions and control (gossipsub tracks IWANT promises on them)
    const sent = send(id, { ...rpc, messages: runs[0] ?? [] })
    for (const run of runs.slice(1)) send(id, { subscriptions: [], messages: run })
    return sent
  }
}
