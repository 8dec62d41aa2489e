/**
 * Start-up composition: opens what a node runs on (the data dir's lock, its
 * identity, the SQLite store and the replica over it) and builds the parts
 * around the replica (the libp2p node with its sync service, gossip,
 * discovery, the write queue), wired to each other and to the node through
 * `ComposeComponents`. Nothing is started here: `Murmur.start` starts the
 * parts, in order.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Replica, SqliteStore, type Op } from '@murmur/core'
import { openInBoot, stoppedInBoot } from './boot-mark.js'
import { clearBackups, identityForStore } from './backup.js'
import { lockDataDir, type DataDirLock } from './data-dir.js'
import { GossipReplication } from './gossip.js'
import { batchSigner, batchVerifier } from './op-signing.js'
import { KEY_FILE, loadOrCreateIdentity } from './identity.js'
import { createLibp2pNode, type MurmurLibp2p } from './libp2p-node.js'
import { Discovery } from './discovery.js'
import { storeMembership } from './membership.js'
import { MemberWatch, freeReservationsOnDisconnect } from './relay.js'
import { stopEach } from './stop-each.js'
import { WriteQueue } from './write-queue.js'
import type { MurmurInit } from './init.js'
import type { NodeMetrics } from './metrics/node-metrics.js'
import type { Replication } from './replication.js'
import type { PeerId, PrivateKey } from '@libp2p/interface'
import type { Ticket } from '@murmur/protocol'
import type { Logger } from 'pino'

/** The parts of a running node. */
export interface Running {
  lock: DataDirLock
  store: SqliteStore
  replica: Replica
  libp2p: MurmurLibp2p
  gossip: GossipReplication
  discovery: Discovery
  writeQueue: WriteQueue
  startedAt: number
}

/** The node's options, with the values the node resolved from them. */
export interface ComposeInit extends MurmurInit {
  group: string
  /** The prepared data directory. */
  dataDir: string
  maxValueBytes: number
  /** The peer IDs on the allow-list, if there is one; this node's own ID is added to it. */
  allowed?: Set<string>
  /** A checked ticket to store in the data dir (group, key, peers) before the parts read it. */
  ticket?: Ticket
}

/** Where the parts call back into the node. */
export interface ComposeComponents {
  /** The node's logger; each part logs through a child of it. */
  log: Logger
  replication: Replication
  /** Whether `peer` (a peer ID) is a connected group member. */
  isMember: (peer: string) => boolean
  /** The sync handshake showed `peer` to be a member of the group, named `name`. */
  memberConnected: (peer: PeerId, name: string) => void
  /** The last connection to `peer` closed. */
  disconnected: (peer: PeerId) => void
  /** Where sync pulls are timed, when the node keeps metrics. */
  metrics?: NodeMetrics
  /** Own ops were committed (numbered), and will be told once durable; `lost`: never (their sync failed). */
  committed: (ops: Op[]) => void
  lost: (ops: Op[]) => void
}

/** Opens the node's data dir, store and replica and builds its parts; on failure, closes what it opened. */
export async function compose (init: ComposeInit, components: ComposeComponents): Promise<Running> {
  const lock = lockDataDir(init.dataDir)
  let store: SqliteStore | undefined
  try {
    if (init.ticket != null) storeMembership(init.dataDir, init.ticket, components.log)
    // both modes commit without waiting for the disk: 'full' acknowledges a batch after an fsync of the WAL,
    // 'normal' at once; either way own ops leave the node only once on disk (see Replication)
    store = SqliteStore.open(join(init.dataDir, 'murmur.db'), { durability: (init.durability ?? 'full') === 'full' ? 'group' : 'normal' })
    if (openInBoot(store)) components.log.warn('the data dir was open when the machine went down: change cursors start anew, and a watch resuming from an earlier one gets a snapshot')
    store.syncNow() // whatever a crash left in the WAL is on disk before any of it is served (and the boot with it)
    const created = !existsSync(join(init.dataDir, KEY_FILE))
    const privateKey = await identityForStore(store, init.dataDir, await loadOrCreateIdentity(init.dataDir), components.log, created)
    clearBackups(init.dataDir)
    const nodeId = peerIdFromPrivateKey(privateKey).toString()
    init.allowed?.add(nodeId) // a node always allows itself
    const replica = new Replica({
      store,
      nodeId,
      sign: batchSigner(privateKey, init.group),
      // as each message leaves: one signature for the commits it carries (Replication); in the commit when it goes alone
      signLater: true,
      leavesAtOnce: () => components.replication.outbound.idle,
      verify: batchVerifier(init.group),
      ...(init.allowed != null ? { members: init.allowed } : {}),
      maxClockSkewMs: init.maxClockSkewMs,
      tombstoneGraceMs: init.tombstoneGraceMs,
      retentionMs: init.tombstoneRetentionMs,
      stuckMs: init.stuckMs,
      historyVersions: init.historyVersions,
      historyBytes: init.historyBytes
      // attestations paced by the grace: the replica's defaults (attestIntervalFor, attestMsPerOriginFor)
    })
    // own ops a stop left unsigned were never sent: signed now, on disk before any of them is served
    if (replica.prove().length > 0) store.syncNow()
    replica.markDurable(replica.vector()[nodeId] ?? 0)
    return { lock, store, replica, ...await build(init, components, store, replica, privateKey), startedAt: Date.now() }
  } catch (err) {
    store?.close()
    lock.release()
    throw err
  }
}

/**
 * Stops every part of a composed node, in order, each step tried whatever the
 * ones before it did (a part may never have started), then closes the store
 * and releases the data dir's lock; rejects with the first failure.
 */
export async function shutdown (running: Running): Promise<void> {
  try {
    await stopEach([async () => { await running.discovery.stop() }, () => { running.gossip.stop() }, async () => { await running.libp2p.stop() }, () => { closeStore(running.store) }])
  } finally {
    running.lock.release()
  }
}

/**
 * Notes the stop and closes the store. A full disk may refuse the note: it
 * costs nothing then (the mark of this boot left open only makes a run after
 * a reboot number its changes anew), so the stop goes on as a clean one.
 */
function closeStore (store: SqliteStore): void {
  try {
    stoppedInBoot(store)
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'SQLITE_FULL') throw err
  } finally {
    store.close()
  }
}

/** The parts around the replica, wired to each other. */
async function build (init: ComposeInit, components: ComposeComponents, store: SqliteStore, replica: Replica, privateKey: PrivateKey): Promise<Pick<Running, 'libp2p' | 'gossip' | 'discovery' | 'writeQueue'>> {
  const { replication, log } = components
  const { allowed } = init
  const watch = new MemberWatch(components.isMember)
  const libp2p = await createLibp2pNode({
    relay: init.relay ?? false,
    log: log.child({ component: 'relay' }),
    isMember: async peer => await watch.until(peer.toString()),
    pingTimeoutMs: init.pingTimeoutMs,
    privateKey,
    group: init.group,
    mdns: init.mdns ?? true,
    dht: init.dht ?? true,
    swarmKey: init.swarmKey,
    allowed: allowed != null ? peer => allowed.has(peer) : undefined,
    listen: init.listen ?? ['/ip4/0.0.0.0/tcp/0'],
    maxValueBytes: init.maxValueBytes,
    sync: {
      group: init.group,
      name: init.name,
      replica,
      maxValueBytes: init.maxValueBytes,
      staleMs: init.pullStaleMs,
      stallMs: init.syncStallMs,
      log: log.child({ component: 'sync' }),
      onStep: (step, peer) => { replication.pulled(step, peer) },
      onResult: (result, peer, reason) => { replication.pullEnded(result, peer, reason) },
      onClaim: (holdsMore, peer, reason) => { replication.antiEntropy.claimed(holdsMore, peer, reason) },
      onMember: (peer, name) => {
        components.memberConnected(peer, name)
        watch.joined(peer.toString())
      },
      onStranger: peer => { watch.refused(peer.toString()) },
      ...(components.metrics != null ? { onPulled: components.metrics.pulled.bind(components.metrics) } : {})
    }
  })
  const gossip = new GossipReplication(libp2p.services.pubsub, {
    group: init.group,
    screen: ops => replica.screen(ops),
    maxValueBytes: init.maxValueBytes,
    log: log.child({ component: 'gossip' }),
    receive: (ops, via) => replication.gossiped(ops, via),
    members: {
      connections: () => libp2p.getConnections(),
      identify: async connection => await libp2p.services.identify.identify(connection),
      hangUp: async peer => { await libp2p.hangUp(peer) },
      isMember: peer => components.isMember(peer)
    }
  })
  const discovery = new Discovery(libp2p, { dataDir: init.dataDir, peers: init.peers ?? [], ...(init.peerLinks !== undefined ? { peerLinks: init.peerLinks } : {}),
    ...(init.peerRotateMs !== undefined ? { peerRotateMs: init.peerRotateMs } : {}), log: log.child({ component: 'discovery' }) })
  const writeQueue = new WriteQueue(changes => {
    const ops = replica.write(changes)
    components.committed(ops)
    return ops
  }, {
    // 'full': a lone writer waits for its fsync on this thread (a hand-off to the thread pool costs it more
    // than it saves); a batch of several writers syncs on the pool while the next batch commits
    durable: (init.durability ?? 'full') === 'full'
      ? writers => {
        if (writers > 1) return store.sync()
        store.syncNow()
        return undefined
      }
      : undefined,
    after: ops => { replication.published(ops) },
    lost: ops => { components.lost(ops) }
  })
  libp2p.addEventListener('peer:disconnect', event => {
    libp2p.services.sync.left(event.detail)
    components.disconnected(event.detail)
  })
  if (libp2p.services.relay != null) freeReservationsOnDisconnect(libp2p, libp2p.services.relay)
  // a member is pulled from as its connection opens (the sync topology's onConnect waits for identify, and
  // comes on a peer's first connection only: a member that reconnects while we still hold a stale connection
  // to it opens a second one, and must be pulled from as well)
  libp2p.addEventListener('connection:open', event => {
    const peer = event.detail.remotePeer
    if (!components.isMember(peer.toString()) && !discovery.isKnown(peer.toString())) return
    replica.reconnected(peer.toString()) // the pull it brings sends the whole hello
    if (libp2p.getConnections(peer).length > 1) libp2p.services.sync.pullInBackground(peer, 'reconnect')
    // not over a limited (relayed) connection, which the sync protocol does not run on
    else if (event.detail.limits == null) libp2p.services.sync.pullOnOpen(peer)
  })
  return { libp2p, gossip, discovery, writeQueue }
}
