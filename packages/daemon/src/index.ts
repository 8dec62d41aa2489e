/**
 * @murmur/daemon: embed a murmur node in a program, or run `murmurd`.
 *
 * @example
 * ```ts
 * import { createMurmur } from '@murmur/daemon'
 * const node = await createMurmur({ name: 'app', dataDir: './data', peers: ['/ip4/10.0.0.2/tcp/4001'] })
 * node.on('change', event => console.log(event.type, event.key))
 * await node.put('greeting', 'hello')
 * console.log(new TextDecoder().decode(node.get('greeting')?.value))
 * await node.stop()
 * ```
 */
import './polyfill.js'

import { Murmur } from './murmur.js'
import type { MurmurInit } from './init.js'

export { Murmur }
export type { PeerSummary, MurmurEvents } from './murmur.js'
export type { MurmurInit } from './init.js'
export type { MurmurStatus } from './status.js'
export type { Condition, PutOptions, Write, WriteOutcome } from './writes.js'
export type { ChangeEvent, Entry, ValueType } from './entry.js'
export type { Version } from '@murmur/core'
export type { NodeMetrics } from './metrics/node-metrics.js'
export { RpcServer, type RpcServerInit } from './rpc/server.js'
export { readSwarmKey } from './swarm-key.js'
export { main } from './main.js'

/** Creates a node and starts it (pass `start: false` to start it yourself). */
export async function createMurmur (init: MurmurInit & { start?: boolean }): Promise<Murmur> {
  const node = new Murmur(init)
  if (init.start !== false) await node.start()
  return node
}
