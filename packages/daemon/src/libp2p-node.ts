/**
 * The libp2p node murmur runs on: TCP, noise, yamux, identify, ping,
 * gossipsub, murmur's sync protocol, the circuit relay transport with DCUtR
 * and AutoNAT (relay.ts; the relay server with `--relay`), and (unless
 * turned off) mDNS and a private Kademlia DHT for discovery. Nothing here
 * reaches outside the addresses the user gives, the group's members or the
 * local network: no bootstrap lists, no public relays, no UPnP.
 *
 * mDNS, the DHT and the swarm key's protector are imported only when they are
 * on: a node without them does not pay for loading them at start.
 */
import { createHash } from 'node:crypto'
import { noise } from '@chainsafe/libp2p-noise'
import { circuitRelayServer, circuitRelayTransport, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import type { TopicScoreParams } from '@libp2p/gossipsub/score'
import { identify, type Identify } from '@libp2p/identify'
import type * as KadDht from '@libp2p/kad-dht'
import type * as Mdns from '@libp2p/mdns'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { isLoopback } from '@libp2p/utils'
import { createLibp2p, type Libp2p } from 'libp2p'
import { allowListGater } from './allow-list.js'
import { PING_TIMEOUT_MS, connectionPings } from './connection-pings.js'
import { groupAutoNAT } from './autonat.js'
import { directUpgrade, type DirectUpgrade } from './direct-upgrade.js'
import { oneWritePerSend, windowUpdatesAtHalf } from './frame-writes.js'
import { quietEmptyReads } from './length-prefix.js'
import { FORGET_AFTER_MS } from './peer-book.js'
import { RELAY_SERVER_LIMITS, relayGate } from './relay.js'
import { relayClient, type RelayClient } from './relay-client.js'
import { listenAddresses, type ListenAddresses } from './reach.js'
import { swarmKeyProtector } from './swarm-key.js'
import { topicFor } from './gossip.js'
import { STREAM_OPTIONS } from './sync/framed.js'
import { boundedYamux } from './bounded-yamux.js'
import { PeersOnlyDatastore } from './dht-store.js'
import { murmurSync, type SyncInit, type SyncService } from './sync/sync-service.js'
import { VERSION } from './version.js'
import type { ConnectionGater, PeerDiscovery, PeerId, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'

export type MurmurServices = {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
  sync: SyncService
  mdns?: PeerDiscovery
  dht?: KadDht.KadDHT
  dcutr: unknown
  directUpgrade: DirectUpgrade
  relayClient: RelayClient
  addresses: ListenAddresses
  autonat: unknown
  relay?: CircuitRelayService
}

export type MurmurLibp2p = Libp2p<MurmurServices>

export interface Libp2pNodeInit {
  privateKey: PrivateKey
  group: string
  listen: string[]
  sync: SyncInit
  maxValueBytes: number
  mdns: boolean
  dht: boolean
  /** The group's 32-byte swarm key: only peers holding it can connect. */
  swarmKey?: Uint8Array
  /** When set, connections to and from peers it refuses are denied. */
  allowed?: (peer: string) => boolean
  /** Serve circuit relay v2 to the group's members (`--relay`). @default false */
  relay?: boolean
  /** The relay client and the direct upgrade log here. */
  log: Logger
  /** Whether a peer is, or shows itself within a few seconds to be, a group member: who the relay serves. */
  isMember?: (peer: PeerId) => Promise<boolean>
  /** A connection whose pong takes longer is closed; pings go every half of it. @default `PING_TIMEOUT_MS` (10 s) */
  pingTimeoutMs?: number
}

/** Each node's datastore, whose peers' records discovery bounds (dht-store.ts). */
const datastores = new WeakMap<MurmurLibp2p, PeersOnlyDatastore>()

/** The datastore under `node`'s peer store, if `createLibp2pNode` made it. */
export function peerRecordsOf (node: MurmurLibp2p): PeersOnlyDatastore | undefined {
  return datastores.get(node)
}

export async function createLibp2pNode (init: Libp2pNodeInit): Promise<MurmurLibp2p> {
  const groupTag = createHash('sha256').update(init.group).digest('hex').slice(0, 16)
  const pingTimeoutMs = init.pingTimeoutMs ?? PING_TIMEOUT_MS
  const [mdns, dht, protector] = await Promise.all([
    init.mdns ? mdnsService(groupTag) : undefined,
    init.dht ? dhtService(groupTag) : undefined,
    init.swarmKey != null ? swarmKeyProtector(init.swarmKey) : undefined
  ])
  windowUpdatesAtHalf()
  quietEmptyReads()
  const datastore = new PeersOnlyDatastore()
  const node = await createLibp2p({
    start: false,
    privateKey: init.privateKey,
    nodeInfo: { userAgent: `murmur/${VERSION}` },
    addresses: { listen: init.listen, announceFilter: withoutLoopback },
    transports: [oneWritePerSend(tcp()), circuitRelayTransport({ reservationCompletionTimeout: 10_000 })],
    // bounds for a small group's node; libp2p also rate-limits inbound connections per host
    connectionManager: { maxConnections: 256, maxIncomingPendingConnections: 16 },
    // memory only, as libp2p's own, but what the DHT keeps for any peer that asks (records murmur never reads) is not kept
    datastore,
    // libp2p hides a peer's address an hour after it first saw it (a reconnection does not renew it), and then
    // dials a member by its ID with no address at all: keep addresses as long as the peer book does
    peerStore: { maxAddressAge: FORGET_AFTER_MS },
    // dead connections are noticed by connection-pings.ts: a yamux ping frame, not a stream per ping
    connectionMonitor: { enabled: false },
    connectionEncrypters: [noise()],
    // a paused sync reader (sync/framed.ts) still receives what its sender's window allows: 256 KiB, not yamux's 16 MiB,
    // and a data frame declaring more than that window ends the connection before it is buffered (bounded-yamux.ts)
    // and a stream of the group's DHT receives at most MAX_DHT_STREAM_BYTES: an answer naming made-up peers by the thousand ends the connection
    streamMuxers: [boundedYamux({ streamOptions: STREAM_OPTIONS }, STREAM_OPTIONS.maxStreamWindowSize, init.log, new Map([[dhtProtocol(groupTag), MAX_DHT_STREAM_BYTES]]))],
    // a closed group: the swarm key protects the raw connection under noise; the gate checks peer IDs
    ...(protector != null ? { connectionProtector: protector } : {}),
    ...gater(init),
    services: {
      identify: identify(),
      // answers peers' pings (older murmur, other libp2p tools); this node pings with connection-pings.ts
      ping: ping(),
      // notice a dead peer within seconds; a pong queued behind sync pages on a slow link is late, not lost, while bytes arrive or are acknowledged
      connectionPings: connectionPings({ log: init.log, intervalMs: pingTimeoutMs / 2, timeoutMs: pingTimeoutMs }),
      pubsub: gossipsub({
        // a lone node must still accept writes; sync delivers them later
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // every op carries its origin's signature, checked wherever it arrives; an envelope signature
        // on top would cost a sign per publish and a verify per message and prove nothing more
        globalSignaturePolicy: 'StrictNoSign',
        // IHAVE advertisements of recent messages stay on (3 heartbeats): without them a 10-node chain's
        // put → event p99 went from ~60 ms to ~230 ms. Their cost: a node that restarts within those
        // 3 s of a burst (seen-cache empty) fetches the window's messages again, besides its first pull
        // one op batch plus framing, far below gossipsub's 4 MiB default
        maxInboundDataLength: init.maxValueBytes + 512 * 1024,
        scoreParams: {
          // fleets often sit behind one address (a NAT, one host in tests): no penalty for sharing it
          IPColocationFactorWeight: 0,
          topics: {
            // Partial on purpose: gossipsub fills the rest from its defaults
            [topicFor(init.group)]: {
              topicWeight: 1,
              // a quiet config store delivers few messages: do not punish mesh peers for that
              meshMessageDeliveriesWeight: 0,
              meshFailurePenaltyWeight: 0,
              // a few invalid messages (squared) take a peer below the graylist threshold (-80)
              invalidMessageDeliveriesWeight: -10,
              invalidMessageDeliveriesDecay: 0.5
            } as TopicScoreParams
          }
        }
      }),
      sync: murmurSync(init.sync),
      // a relayed connection between members is upgraded to a direct one where the NATs allow it
      dcutr: dcutr(),
      // and where DCUtR gives up because this node, behind NAT, dialled through the relay: dial the peer directly
      directUpgrade: directUpgrade({ log: init.log }),
      // a reservation on the group relays this node connects to, and so a relayed address
      relayClient: relayClient({ log: init.log }),
      addresses: listenAddresses(),
      // members dial back each other's public addresses, so a node learns which of its own are reachable
      autonat: groupAutoNAT(),
      ...(init.relay === true ? { relay: circuitRelayServer(RELAY_SERVER_LIMITS) } : {}),
      ...(mdns != null ? { mdns } : {}),
      ...(dht != null ? { dht } : {})
    }
  })
  datastores.set(node, datastore)
  return node
}

/** The allow-list, and the relay's members-only rule when this node serves as a relay. */
function gater (init: Libp2pNodeInit): { connectionGater?: ConnectionGater } {
  const hooks: ConnectionGater = {
    ...(init.allowed != null ? allowListGater(init.allowed) : {}),
    ...(init.relay === true && init.isMember != null ? relayGate(init.isMember) : {})
  }
  return Object.keys(hooks).length > 0 ? { connectionGater: hooks } : {}
}

async function mdnsService (groupTag: string): Promise<ReturnType<typeof Mdns.mdns>> {
  const { mdns } = await import('@libp2p/mdns')
  // one mDNS service name per group, so two groups on one LAN never meet
  return mdns({ serviceTag: `_murmur-${groupTag}._udp.local`, interval: 5_000 })
}

/** The group's DHT protocol. */
export function dhtProtocol (groupTag: string): string {
  return `/murmur/${groupTag}/kad/1.0.0`
}

/**
 * The most a stream of the group's DHT may receive (bounded-yamux.ts). A
 * FIND_NODE answer names at most 20 peers (k), each with its private
 * addresses: a few KiB. 16 KiB holds about 330 made-up ones: at 1,300 an
 * answer, murmurd asked again several times a second and held a core and
 * ~700 MB; at 300, one answer each 10 s, about a quarter of a core, and
 * what it keeps of them stays within its bounds (discovery.ts).
 */
export const MAX_DHT_STREAM_BYTES = 16 * 1024

async function dhtService (groupTag: string): Promise<ReturnType<typeof KadDht.kadDHT>> {
  const { kadDHT, removePublicAddressesMapper } = await import('@libp2p/kad-dht')
  return kadDHT({
    // a private DHT per group: never the public /ipfs/kad/1.0.0 network
    protocol: dhtProtocol(groupTag),
    // LAN clusters have no public addresses: serve anyway, and keep private addresses
    clientMode: false,
    peerInfoMapper: removePublicAddressesMapper,
    initialQuerySelfInterval: 500,
    querySelfInterval: 10_000,
    // every peer a DHT answer names waits here for the routing table, and each one named reads the whole queue for
    // itself: at kad-dht's 16,384, an answer naming 20,000 made-up peers spent 61% of murmurd's CPU here (a profile,
    // before answers were bounded: MAX_DHT_STREAM_BYTES). Honest answers name at most 20 (k); a peer left out is taken
    // when it is named again or connects
    routingTableUpdateMaxQueueSize: 64
  })
}

/** Loopback addresses reach only this host: announce them only when there is nothing else. */
export function withoutLoopback (addrs: Multiaddr[]): Multiaddr[] {
  const external = addrs.filter(addr => !isLoopback(addr))
  return external.length > 0 ? external : addrs
}
