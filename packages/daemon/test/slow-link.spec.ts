/**
 * A node catching up over a slow link (20 KB/s: a token bucket on the
 * server's side of a link between two network namespaces, as a cellular
 * uplink or a busy relay would be). Needs root, iproute2 (tc) and nftables
 * (scripts/install-test-deps.sh); skipped otherwise.
 *
 * Before, it barely moved: the server's yamux window grew to 2 MiB, so up to
 * ~100 s of sync pages sat queued ahead of everything else on the
 * connection; a ping's pong waited behind them, so each end took the
 * connection for dead after 10 s and closed it, again and again, and each
 * closed pull left its queued pages to drain before the next one's (which
 * then timed out waiting). 1,200 keys of 1 KB took about 150 s (120 s with
 * the pings fixed alone); now the window stays 256 KiB and a connection whose
 * bytes keep moving is alive, pong or not: about 65 s, the link's rate. The
 * test moves 600 (about 30 s): still twice the window, so a pong queued
 * behind a grown window would wait past the 10 s a ping is given.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { waitFor, type TestNode } from './harness.js'
import { NetnsCluster } from './netns.js'
import { shapedLink } from './shaped-link.js'

const skip = NetnsCluster.available()
const KEYS = 600

describe('a node catching up over a 20 KB/s link', () => {
  let net: NetnsCluster
  let alice: TestNode

  before(async () => {
    if (skip != null) return
    // 160 kbit/s out of alice's host, a 16 KB burst, at most 5 s queued in the bucket
    const link = await shapedLink(KEYS, 'slow/', { rate: '160kbit', burst: '16kb', latency: '5s' })
    net = link.net
    alice = link.alice
  })

  after(async () => {
    await net?.close()
  })

  it('takes every key in about the time the link needs, its connection never closed as dead', { skip, timeout: 180_000 }, async () => {
    const began = Date.now()
    const bob = await net.start(2, 'bob', { peers: [net.addr(1)] })
    await waitFor(async () => (await bob.status()).keys >= KEYS, `bob to hold all ${KEYS} keys`, 60_000, 2_000)
    const seconds = (Date.now() - began) / 1000
    console.log(`# ${KEYS} keys of 1 KB over 20 KB/s: bob held them all after ${seconds.toFixed(0)} s`)
    for (const node of [alice, bob]) assert.doesNotMatch(node.stderr, /no answer to a ping/, `${node.name} closed a live connection for want of a pong`)
  })
})
