/**
 * Two network namespaces for the slow-link specs: alice on the first holds
 * `keys` keys of 1 KB, and her host's side of the link is then shaped by a
 * token bucket (`tc qdisc … tbf`), so whatever she sends a node on the
 * second goes at that rate. Needs root, iproute2 and nftables (see
 * `NetnsCluster.available`).
 */
import assert from 'node:assert/strict'
import { MurmurClient } from '@murmur/protocol'
import type { TestNode } from './harness.js'
import { NetnsCluster } from './netns.js'

export async function shapedLink (keys: number, prefix: string, tbf: { rate: string, burst: string, latency: string }): Promise<{ net: NetnsCluster, alice: TestNode }> {
  const net = await NetnsCluster.create(2)
  const alice = await net.start(1, 'alice')
  const client = await MurmurClient.connect(alice.socket)
  try {
    for (let i = 0; i < keys; i += 400) {
      const results = await client.batch(Array.from({ length: Math.min(400, keys - i) }, (_, k) => ({ method: 'kv_put' as const, params: { key: `${prefix}${i + k}`, value: 'x'.repeat(1_000) } })))
      assert.ok(results.every(result => result.error === undefined), 'alice took every put')
    }
  } finally {
    client.close()
  }
  const shaped = await net.exec(1, 'tc', ['qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', tbf.rate, 'burst', tbf.burst, 'latency', tbf.latency])
  assert.equal(shaped.code, 0, `tc: ${shaped.stderr}`)
  return { net, alice }
}
