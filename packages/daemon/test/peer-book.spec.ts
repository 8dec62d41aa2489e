/**
 * The peer book (`peers.json`) keeps the members a node has met, and is not
 * written again by every sync handshake: only when a member's name, addresses
 * or source change, or its last-seen time is an hour stale.
 */
import assert from 'node:assert/strict'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { TestCluster, waitFor } from './harness.js'

describe('peer book', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('remembers a member once, not at every handshake', async () => {
    // handshakes every ~200 ms: each anti-entropy pull opens one (and a quiet group's pulls must not slow down)
    const args = ['--anti-entropy-interval', '200', '--anti-entropy-max-interval', '200']
    const alice = await cluster.start('alice', { args })
    const bob = await cluster.start('bob', { args, peers: [await alice.addr()] })
    const aliceId = (await alice.status()).id as string
    const book = join(bob.dataDir, 'peers.json')
    const entry = await waitFor(() => {
      try {
        return (JSON.parse(readFileSync(book, 'utf8')) as Array<{ id: string, name?: string, addrs: string[] }>).find(e => e.id === aliceId)
      } catch { return undefined }
    }, 'bob to write alice into its peer book')
    assert.equal(entry.name, 'alice')
    const written = statSync(book).mtimeMs
    // at least ten more handshakes with alice
    const syncs = new Set<string>()
    await waitFor(async () => {
      const sync = ((await bob.status()).peerSync as Array<{ id: string, lastSync?: string }>).find(p => p.id === aliceId)
      if (sync?.lastSync != null) syncs.add(sync.lastSync)
      return syncs.size >= 10
    }, 'ten sync handshakes between bob and alice', 20_000, 100)
    assert.equal(statSync(book).mtimeMs, written, 'peers.json was written again though nothing in it changed')
  })
})
