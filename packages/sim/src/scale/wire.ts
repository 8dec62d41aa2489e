/**
 * What the scale model adds to the bytes murmur's own encoders produce, so
 * byte counts read like the kernel's TCP counters (payload both ways). These
 * are estimates of libp2p's framing, not measurements: noise adds a 2-byte
 * length and a 16-byte tag per frame, yamux a 12-byte header; gossipsub wraps
 * each message in a protobuf RPC naming the topic; with StrictNoSign its
 * message ID is the SHA-256 of the data (32 bytes in IHAVE/IWANT).
 */
export const TOPIC = '/murmur/sim/ops/3'
/** noise length + tag, yamux header. */
export const FRAME_OVERHEAD = 2 + 16 + 12
/** A published or forwarded message: RPC and Message protobuf fields around the data. */
export const MESSAGE_OVERHEAD = FRAME_OVERHEAD + TOPIC.length + 10
/** IHAVE or IWANT: one control RPC, then 34 bytes per message ID. */
export const CONTROL_OVERHEAD = FRAME_OVERHEAD + TOPIC.length + 8
export const ID_BYTES = 34
/** GRAFT or PRUNE. */
export const GRAFT_BYTES = CONTROL_OVERHEAD
/** A sync stream's opening: yamux SYN, multistream-select of the protocol both ways. */
export const STREAM_OPEN_BYTES = 2 * (FRAME_OVERHEAD + 40)
/** murmurd pings every connection from each end every 5 s (connection-pings.ts): a yamux ping frame and its pong. */
export const PING_EVERY_MS = 5_000
export const PING_BYTES = 2 * FRAME_OVERHEAD

/** What a byte was for: the report's columns. */
export type Traffic = 'gossip' | 'attest' | 'ihave' | 'iwant' | 'graft' | 'ae' | 'ping'
export const TRAFFIC: Traffic[] = ['gossip', 'attest', 'ihave', 'iwant', 'graft', 'ae', 'ping']
