/**
 * The libp2p node murmur runs on: TCP, noise, yamux, identify, ping,
 * gossipsub and murmur's sync protocol. Nothing here reaches outside the
 * addresses the user gives: no bootstrap lists, no relays, no UPnP.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify, type Identify } from '@libp2p/identify'
import { ping, type Ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import { murmurSync, type SyncInit, type SyncService } from './sync/sync-service.js'
import { VERSION } from './version.js'
import type { PrivateKey } from '@libp2p/interface'

export type MurmurServices = {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
  sync: SyncService
}

export type MurmurLibp2p = Libp2p<MurmurServices>

export interface Libp2pNodeInit {
  privateKey: PrivateKey
  listen: string[]
  sync: SyncInit
  maxValueBytes: number
}

export async function createLibp2pNode (init: Libp2pNodeInit): Promise<MurmurLibp2p> {
  return await createLibp2p({
    start: false,
    privateKey: init.privateKey,
    nodeInfo: { userAgent: `murmur/${VERSION}` },
    addresses: { listen: init.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // a lone node must still accept writes; sync delivers them later
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        globalSignaturePolicy: 'StrictSign',
        // one op batch plus framing, far below gossipsub's 4 MiB default
        maxInboundDataLength: init.maxValueBytes + 512 * 1024
      }),
      sync: murmurSync(init.sync)
    }
  })
}
