/**
 * A node on a public address that no member has dialled back yet (a group's
 * first node, on a cloud VM) still gives that address out: in status, its
 * banner and its tickets, with reachability `unknown` until AutoNAT confirms
 * it. murmurd runs alone in an anonymous network namespace (unshare --net)
 * whose only interface pair holds 3fff::1, from the IPv6 documentation
 * prefix (RFC 9637: never routed, and public to libp2p); the namespace goes
 * with the process. Needs root; skipped otherwise.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { decodeTicket } from '@murmur/protocol'
import { TestCluster } from './harness.js'
import { NetnsCluster } from './netns.js'

const skip = NetnsCluster.available()
const SETUP = 'ip link set lo up && ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up && ip -6 addr add 3fff::1/64 dev v0 nodad && exec "$@"'

describe('a node on a public address nobody has dialled back yet', { skip }, () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('gives the address out (status, banner, ticket) and says its reachability is unknown', async () => {
    const hub = await cluster.start('hub', { listen: '/ip6/3fff::1/tcp/4001', prefix: ['unshare', '--net', 'sh', '-c', SETUP, 'sh'] })
    const status = await hub.status()
    assert.match(status.addrs[0], /^\/ip6\/3fff::1\/tcp\/4001\/p2p\//)
    assert.equal(status.reach.reachability, 'unknown')
    assert.match(hub.stdout, /--peer \/ip6\/3fff::1\/tcp\/4001\/p2p\//)
    const invite = await hub.ctl(['invite'])
    assert.equal(invite.code, 0, invite.stderr)
    assert.deepEqual(decodeTicket(invite.stdout.trim()).addrs, status.addrs)
  })
})
