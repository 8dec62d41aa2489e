/**
 * A watch from cursor 0 over a database of several replay pages, on real
 * binaries, while another client writes: `murmurctl watch --since 0` gets
 * every change once, in cursor order (the replay is read a page at a time
 * and reads on to the writes made meanwhile; see replay.ts), and what it
 * printed adds up to what murmurd holds.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { TestCluster, waitFor } from './harness.js'
import { startWatch } from './watch-client.js'
import { RawClient } from './raw-client.js'

describe('watch --since 0 over several pages while writes go on', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('tells every change once, in cursor order, and ends where murmurd is', async () => {
    const node = await cluster.start('pages')
    const writer = await RawClient.connect(node.socket)
    try {
      // 3,000 keys: three pages of changes
      for (let b = 0; b < 3; b++) {
        const batch = Array.from({ length: 1000 }, (_, i) => ({ jsonrpc: '2.0', id: `${b}/${i}`, method: 'kv_put', params: { key: `w/${b * 1000 + i}`, value: `first ${i}` } }))
        writer.write(JSON.stringify(batch) + '\n')
        const answers = await writer.next(m => Array.isArray(m), 60_000)
        writer.messages.splice(writer.messages.indexOf(answers), 1)
        assert.ok(answers.every((a: any) => a.result !== undefined), JSON.stringify(answers.find((a: any) => a.result === undefined)))
      }
      const watch = startWatch(node, ['--since', '0', '--prefix', 'w/'])
      try {
        // while the replay is read: changes ahead of it, behind it, deletes and new keys
        for (let i = 0; i < 60; i++) {
          const key = `w/${(i * 997) % 3000}`
          const answer = i % 5 === 0 ? await writer.request('kv_delete', { key }) : await writer.request('kv_put', { key: i % 7 === 0 ? `w/new/${i}` : key, value: `second ${i}` })
          assert.ok(answer.result, JSON.stringify(answer))
        }
        assert.ok((await writer.request('kv_put', { key: 'w/done', value: 'last' })).result)
        await waitFor(() => watch.events().some(e => e.key === 'w/done'), 'the last write on the watch', 60_000)
        const events = watch.events()
        const told = events.filter(e => e.type !== 'ready')
        const cursors = told.map(e => e.cursor as number)
        assert.ok(cursors.every((cursor, i) => i === 0 || cursor > (cursors[i - 1] as number)), 'in cursor order, none twice')
        assert.equal(events.filter(e => e.type === 'ready').length, 1)
        const held = new Map<string, unknown>()
        for (const e of told) e.type === 'delete' ? held.delete(e.key as string) : held.set(e.key as string, e.value)
        const listed = new Map<string, unknown>()
        for (let after: string | undefined; ;) {
          const { result } = await writer.request('kv_list', { prefix: 'w/', ...(after !== undefined ? { after } : {}) })
          for (const item of result.items) listed.set(item.key, item.value)
          if (result.next === undefined) break
          after = result.next
        }
        assert.equal(held.size, listed.size)
        assert.deepEqual([...held.entries()].sort(), [...listed.entries()].sort())
      } finally {
        assert.equal(await watch.stop(), 0, watch.stderr())
      }
    } finally {
      writer.destroy()
    }
  })
})
