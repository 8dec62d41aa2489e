/**
 * What the NAT tests share: a NAT layout of network namespaces
 * (`netns-cluster.sh nat-up` or `nat6-up`) with a closed group's swarm key,
 * a relay member started with it, tickets, and a key check.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { MURMURCTL, run, type TestNode } from './harness.js'
import { NetnsCluster } from './netns.js'

export class NatGroup {
  private constructor (readonly net: NetnsCluster, readonly keyFile: string) {}

  static async create (layout: 'nat' | 'nat6'): Promise<NatGroup> {
    const net = await NetnsCluster.create(0, layout)
    const keyFile = join(net.nodes.dir, 'team.key')
    assert.equal((await run(process.execPath, [MURMURCTL, 'keygen', keyFile])).code, 0)
    return new NatGroup(net, keyFile)
  }

  /** A member serving circuit relay v2 to the group, on `host`. */
  async startRelay (host: number): Promise<TestNode> {
    return await this.net.start(host, 'relay', { args: ['--relay', '--swarm-key', this.keyFile] })
  }

  /** Stops the nodes, removes the namespaces, and checks none is left. */
  async close (): Promise<void> {
    await this.net.close()
    assert.deepEqual(this.net.leftovers(), [], 'the namespaces are removed')
  }
}

export async function ticketOf (node: TestNode): Promise<string> {
  const result = await node.ctl(['invite', '--expires', '1h'])
  assert.equal(result.code, 0, result.stderr)
  return result.stdout.trim()
}

export async function has (node: TestNode, key: string, value: string): Promise<boolean> {
  return (await node.ctl(['get', key])).stdout.trim() === value
}
