/**
 * The fast path, as a thin adapter: own ops are published on the group's
 * gossipsub topic once they are on disk, and peers' messages are checked by
 * the replica before gossipsub forwards them; what they mean is the replica's
 * business.
 *
 * Gossip is best-effort (a missed message is never re-sent once it leaves the
 * gossip window), so this only ever speeds things up; sync guarantees them.
 */
import { TopicValidatorResult, type GossipSub, type GossipsubMessage, type Message } from '@libp2p/gossipsub'
import { chunkByBatch, decodeOps, encodeOps, type Op, type RefusalKind, type Screened } from '@murmur/core'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import { fragmentRpcs } from './gossip-fragment.js'
import { GossipPeers, type GossipPeersInit } from './gossip-peers.js'
import { RateLimiter } from './rate-limit.js'

export interface GossipInit {
  group: string
  log: Logger
  maxValueBytes: number
  /** A message's ops sorted: those held here already apart, unchecked; the rest checked, up to the first refused (`Replica.screen`). */
  screen(ops: Op[]): Screened
  /** Ops of an accepted message, and the peer it came through; returns those of them, checked, not kept (refused, left for sync, no room to wait). */
  receive(ops: Op[], via: PeerId): Op[]
  /** Payload bytes per message before encoding. @default 256 KiB */
  messageBytes?: number
  /** Where to find connected members gossipsub may have lost (gossip-peers.ts); none: not watched. */
  members?: Omit<GossipPeersInit, 'pubsub' | 'log' | 'topic'>
}

/** Ops an origin may have checked and not kept (`GossipReplication.unkept`): so many a second, so many at once. */
export const UNKEPT_PER_SECOND = 100
export const UNKEPT_BURST = 1_000

export function topicFor (group: string): string {
  return `/murmur/${group}/ops/3`
}

export class GossipReplication {
  readonly topic: string
  private readonly pubsub: GossipSub
  private readonly init: GossipInit
  /** Ops decoded by the validator, so the message handler need not decode again. */
  private readonly decoded = new WeakMap<Uint8Array, Op[]>()
  private readonly onMessage = (event: CustomEvent<GossipsubMessage>): void => { this.deliver(event.detail) }
  /**
   * A single writer at full speed sends a few thousand messages a second
   * (each group commit is one message); beyond this a peer's messages are
   * ignored, not processed, and sync delivers what honest peers sent. Each
   * op of a message that this node holds already costs one more: honest
   * gossip brings new ops (a message that lost a race with a sync aside),
   * and a member replaying old ones would otherwise have every op decoded
   * and looked up, as many as its messages hold (paid in full: its debt is
   * not capped at a burst, so a message of 100,000 held ops costs it 20 s of
   * silence, not 2).
   *
   * And each batch signature checked past a message's first costs one more:
   * a message is checked one signature a batch, and a peer that signed each
   * op alone had one message of 10,000 checked for one token (1.4 s of
   * murmurd's CPU, ~2.4 s at gossip's largest message). A message with more
   * batches than its sender's allowance holds is ignored unchecked. Honest
   * messages are a commit, or the few a writer's publish window gathers.
   */
  private readonly rate = new RateLimiter(5_000, 10_000)
  /**
   * An op checked and then not kept (stamped too far ahead, out of order,
   * left for sync, no room to wait) is held nowhere, so a replay of it is not
   * known here and would buy a signature check an op (~200 µs here, against
   * a few µs to look up a held one) for ever. Its origin signed it, so its
   * origin pays, wherever it came from: once its allowance is spent, messages
   * holding its ops are ignored, neither checked nor forwarded, until it has
   * paid (sync still brings what it writes). An honest origin pays only
   * with a clock an hour wrong, past a full pending buffer, or while its
   * gossip is left for sync (back after deletes were collected here without
   * it, until it attests to them).
   */
  private readonly unkept = new RateLimiter(UNKEPT_PER_SECOND, UNKEPT_BURST)
  rejected = 0
  /** Messages ignored unchecked, by whose allowance was spent: the peer that sent it (`rate`), or an origin of its ops (`unkept`). */
  readonly throttled = { sender: 0, origin: 0 }
  /** Ops charged: to the peer that sent them (held here already, an owing origin's, checked in a rejected message; and batches checked past a message's first), or to their origin (checked, not kept). */
  readonly charged = { sender: 0, origin: 0 }
  /** `rejected` by why: a message that does not decode (or is empty), or the kind of its first refused op. */
  readonly rejectedBy: Record<'malformed' | RefusalKind, number> = { malformed: 0, signature: 0, origin: 0, record: 0, future: 0, order: 0 }

  private readonly peers?: GossipPeers
  /** Accepted messages not yet handed on, by the peer they came through (see `deliver`). */
  private readonly arrived = new Map<string, { via: PeerId, ops: Op[] }>()
  private handing?: NodeJS.Immediate

  constructor (pubsub: GossipSub, init: GossipInit) {
    this.pubsub = pubsub
    this.init = init
    this.topic = topicFor(init.group)
    fragmentRpcs(pubsub)
    if (init.members != null) this.peers = new GossipPeers({ ...init.members, pubsub, topic: this.topic, log: init.log })
  }

  /** Whether gossipsub counts `peer` as subscribed to the group's topic (so publishing reaches it). */
  hears (peer: string): boolean {
    return this.pubsub.getSubscribers(this.topic).some(subscriber => subscriber.toString() === peer)
  }

  /** Whether `peer` is in this node's mesh for the group's topic: gossipsub forwards every message to it at once (others hear of them by IHAVE, once a heartbeat). */
  inMesh (peer: string): boolean {
    // the implementation has it; the interface gossipsub exports does not
    return (this.pubsub as unknown as { getMeshPeers(topic: string): string[] }).getMeshPeers(this.topic).includes(peer)
  }

  start (): void {
    this.pubsub.topicValidators.set(this.topic, (peer, message) => {
      if (this.rate.take(peer.toString())) return this.validate(peer, message)
      this.throttled.sender++
      return TopicValidatorResult.Ignore
    })
    this.pubsub.addEventListener('gossipsub:message', this.onMessage)
    this.pubsub.subscribe(this.topic)
    this.peers?.start()
  }

  /**
   * Takes no more messages: each is ignored, neither taken nor forwarded,
   * until libp2p stops (next, as the node stops). The topic stays subscribed
   * on purpose: leaving it sends each mesh peer a PRUNE, which backs this node
   * off for 10 s, and a node restarted within them (a graceful restart, an
   * upgrade) had its GRAFTs refused and the back-off raised to a minute,
   * out of its peers' mesh all that time. Closing the connections unsubscribes
   * this node without one.
   */
  stop (): void {
    this.handOn()
    this.peers?.stop()
    this.pubsub.topicValidators.set(this.topic, () => TopicValidatorResult.Ignore)
    this.pubsub.removeEventListener('gossipsub:message', this.onMessage)
  }

  /** Publishes ops in as few messages as fit, batches whole; resolves to the recipients of each. */
  async publish (ops: Op[]): Promise<number[]> {
    const counts: number[] = []
    for (const chunk of chunkByBatch(ops, this.init.messageBytes ?? 256 * 1024)) {
      const result = await this.pubsub.publish(this.topic, encodeOps(chunk))
      counts.push(result.recipients.length)
    }
    return counts
  }

  /**
   * Gossipsub validator: an explicit Reject lets peer scoring penalise the
   * peer that sent the message. Messages carry no envelope signature
   * (StrictNoSign): each op's batch signature says who wrote it.
   */
  private validate (peer: PeerId, message: Message): TopicValidatorResult {
    let ops: Op[]
    try {
      ops = decodeOps(message.data, { maxValueBytes: this.init.maxValueBytes })
    } catch (err) {
      return this.reject((err as Error).message, 'malformed', peer)
    }
    if (ops.length === 0) return this.reject('empty batch', 'malformed', peer)
    const batches = batchesOf(ops)
    if (batches > 1 && !this.rate.has(peer.toString(), batches - 1)) {
      this.throttled.sender++
      return TopicValidatorResult.Ignore
    }
    if (ops.some(op => this.unkept.owes(op.origin))) {
      this.throttled.origin++
      this.chargeSender(peer, ops.length)
      return TopicValidatorResult.Ignore
    }
    const { fresh, known, refusal } = this.init.screen(ops)
    if (refusal != null) {
      // the ops before the refused one were checked too, and none is kept; the refused one's origin may be forged
      this.chargeSender(peer, known + fresh.length + 1)
      this.charge(fresh)
      return this.reject(`op ${refusal.op.key}: ${refusal.reason}`, refusal.kind, peer)
    }
    if (known === 0) {
      this.chargeSender(peer, batches - 1)
      this.decoded.set(message.data, ops)
      return TopicValidatorResult.Accept
    }
    // ops held here were not checked: the message goes no further (a peer that holds none of them would
    // check them, and might score this node for a forgery), and what is new in it is taken here
    this.chargeSender(peer, known + Math.max(0, batchesOf(fresh) - 1))
    if (fresh.length > 0) this.arrive(fresh, peer)
    return TopicValidatorResult.Ignore
  }

  private reject (reason: string, kind: 'malformed' | RefusalKind, from: PeerId): TopicValidatorResult {
    this.rejected++
    this.rejectedBy[kind]++
    this.init.log.warn({ peer: from.toString(), reason }, 'rejected gossip message')
    return TopicValidatorResult.Reject
  }

  /**
   * Messages accepted in one turn of the event loop are handed on together,
   * one `receive` per peer they came through, right after it (setImmediate):
   * a replica that falls behind a fast writer then applies what queued up in
   * one transaction, not one per message.
   */
  private deliver ({ msg, propagationSource }: GossipsubMessage): void {
    if (msg.topic !== this.topic) return
    this.arrive(this.decoded.get(msg.data) ?? decodeOps(msg.data, { maxValueBytes: this.init.maxValueBytes }), propagationSource)
  }

  private arrive (ops: Op[], via: PeerId): void {
    const from = this.arrived.get(via.toString())
    if (from !== undefined) from.ops.push(...ops)
    else this.arrived.set(via.toString(), { via, ops: [...ops] })
    this.handing ??= setImmediate(() => { this.handOn() })
  }

  private handOn (): void {
    clearImmediate(this.handing)
    this.handing = undefined
    const arrived = [...this.arrived.values()]
    this.arrived.clear()
    for (const { ops, via } of arrived) this.charge(this.init.receive(ops, via))
  }

  /** Charges the origins of ops checked and not kept (see `unkept`). */
  private charge (ops: Op[]): void {
    const byOrigin = new Map<string, number>()
    for (const op of ops) byOrigin.set(op.origin, (byOrigin.get(op.origin) ?? 0) + 1)
    for (const [origin, count] of byOrigin) this.unkept.charge(origin, count)
    this.charged.origin += ops.length
  }

  /** Charges `peer` for `ops` (ops held here, or batches checked past a message's first), in full: see `rate`. */
  private chargeSender (peer: PeerId, ops: number): void {
    if (ops <= 0) return
    this.rate.charge(peer.toString(), ops, Infinity)
    this.charged.sender += ops
  }
}

/** How many batches (signatures) `ops` come in: those of a batch share one proof object; an unsigned op has none. */
function batchesOf (ops: Op[]): number {
  const proofs = new Set<unknown>()
  for (const op of ops) if (op.proof !== undefined) proofs.add(op.proof)
  return proofs.size
}
