/**
 * What the hostile specs (hostile-bytes, hostile-splice) check of a node
 * between attacks, and the settings they start nodes with.
 */
import assert from 'node:assert/strict'
import type { Frame } from '@murmur/core'
import type { TestNode } from './harness.js'

/** Pulls every few hundred ms, so a test sees many of them in seconds. */
export const FAST = ['--anti-entropy-interval', '200', '--anti-entropy-max-interval', '400']
export const done: Frame = { kind: 'control', message: { t: 'done' } }

/** Ops refused (from pulls, or from gossip once applied). */
export const rejected = async (node: TestNode): Promise<number> => (await node.status()).counters.rejected
/** Gossip messages rejected whole before they were applied (their ops counted in neither). */
export const rejectedMessages = async (node: TestNode): Promise<number> => (await node.status()).counters.rejectedMessages
export const value = async (node: TestNode, key: string): Promise<string | number> => {
  const result = await node.ctl(['get', key])
  return result.code === 0 ? result.stdout.trim() : result.code ?? -1
}

/** Every node's murmurd is still running and answers `status`. */
export async function alive (nodes: TestNode[]): Promise<void> {
  for (const node of nodes) {
    assert.equal(node.process?.exitCode, null, `${node.name}'s murmurd exited: ${node.stderr.slice(-2000)}`)
    assert.equal(node.process?.signalCode, null, `${node.name}'s murmurd was killed`)
    assert.equal((await node.status()).name, node.name)
  }
}
