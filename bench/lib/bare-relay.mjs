/**
 * A bare circuit relay v2 server for the bench's `relay` section: libp2p with
 * TCP, noise, yamux, identify and the relay service, on 127.0.0.1, and
 * nothing of murmur's (no replica, no sync, no members-only rule), so a
 * catch-up through it can only come from the node behind it. Prints its
 * address on stdout and runs until SIGTERM.
 */
import '../../packages/daemon/dist/src/polyfill.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { RELAY_SERVER_LIMITS } from '../../packages/daemon/dist/src/relay.js'

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  // murmur's own relay limits: no per-connection data or time limit
  services: { identify: identify(), relay: circuitRelayServer(RELAY_SERVER_LIMITS) }
})
process.stdout.write(`${node.getMultiaddrs()[0]}\n`)
process.once('SIGTERM', () => { node.stop().finally(() => process.exit(0)) })
