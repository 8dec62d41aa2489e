/**
 * An acknowledged write survives murmurd being killed (README, Guarantees 1),
 * with either durability: `normal` may lose the last writes to a power cut,
 * never to a crash of murmurd, whose commits are in the page cache. A writer
 * on several connections at once, killed with SIGKILL while puts are in
 * flight; restarted, the node holds every write it had answered.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { TestCluster, waitFor } from './harness.js'
import { RawClient } from './raw-client.js'

const CLIENTS = 4

describe('murmurd killed while puts are in flight', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  for (const durability of ['full', 'normal']) {
    it(`--durability ${durability}: every put it answered is there after the restart`, async () => {
      const node = await cluster.start(durability, { args: ['--durability', durability] })
      const acked: string[] = []
      let stop = false
      const writers = Array.from({ length: CLIENTS }, async (_, c) => {
        const client = await RawClient.connect(node.socket)
        try {
          for (let i = 0; !stop && i < 100_000; i++) {
            const key = `k:${c}:${i}`
            const answer = await client.request('kv_put', { key, value: `value ${i}` }).catch(() => undefined)
            if (answer?.result?.version === undefined) return // the kill came first
            acked.push(key)
          }
        } finally {
          client.destroy()
        }
      })
      await waitFor(() => acked.length >= 400, 'a few hundred puts answered', 30_000, 10)
      // killed mid-stream: some puts answered, some read and not yet answered, some not yet read
      await node.stop('SIGKILL')
      stop = true
      await Promise.all(writers)
      const answered = [...acked]
      await node.start()
      const held = new Set((await node.entries('k:')).map(entry => entry.key))
      const lost = answered.filter(key => !held.has(key))
      console.log(`# ${durability}: ${answered.length} puts answered before the kill, ${held.size} keys held after the restart`)
      assert.deepEqual(lost.slice(0, 10), [], `${lost.length} answered puts lost`)
      await node.stop()
    })
  }
})
