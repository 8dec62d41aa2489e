/**
 * Answers that would pass V8's longest string (~512 MiB). Any member may write
 * values of 1 MiB; a page of `kv_list` held up to 1,000 of them, and a batch
 * up to 1,000 reads: JSON.stringify threw from the socket's data handler and
 * murmurd exited. Now a page holds at most 16 MiB of values (besides its
 * first), `next` leads on to the rest (a resumed watch's snapshot pages the
 * same), and an answer too long to encode is answered with an error
 * (rpc/server.ts, entry.ts).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { MurmurClient } from '@murmur/protocol'
import { MAX_PAGE_VALUE_BYTES } from '../src/entry.js'
import { TestCluster, type TestNode } from './harness.js'
import { RawClient } from './raw-client.js'

const MIB = 1024 * 1024
// 34 values make three pages (16, 16, 2); 450 reads of one make ~630 MB of JSON, past the ~512 MiB the old code died at
const VALUES = 34
const READS = 450

describe('answers that would pass the longest string murmurd can encode', () => {
  const cluster = new TestCluster()
  let node: TestNode
  let client: MurmurClient
  before(async () => {
    node = await cluster.start('alice')
    client = await MurmurClient.connect(node.socket)
    for (let i = 0; i < VALUES; i++) await client.call('kv_put', { key: `big/${String(i).padStart(2, '0')}`, value: Buffer.alloc(MIB - 64, 97 + (i % 26)).toString('base64'), encoding: 'base64' })
  })
  after(async () => {
    client?.close()
    await cluster.close()
  })

  it(`lists ${VALUES} values of 1 MiB in pages of at most ${MAX_PAGE_VALUE_BYTES / MIB} MiB, each key once`, async () => {
    const seen: string[] = []
    const pages: number[] = []
    let after: string | undefined
    do {
      const page = await client.call('kv_list', { prefix: 'big/', encoding: 'base64', ...(after !== undefined ? { after } : {}) })
      const bytes = page.items.reduce((sum, item) => sum + Buffer.from(item.value as string, 'base64').byteLength, 0)
      assert.ok(bytes <= MAX_PAGE_VALUE_BYTES + MIB, `a page of ${page.items.length} values, ${(bytes / MIB).toFixed(1)} MiB`)
      pages.push(page.items.length)
      seen.push(...page.items.map(item => item.key))
      after = page.next
    } while (after !== undefined)
    console.log(`# ${VALUES} values of 1 MiB listed in pages of ${pages.join(', ')}`)
    assert.deepEqual(seen, Array.from({ length: VALUES }, (_, i) => `big/${String(i).padStart(2, '0')}`))
    // murmurctl follows the pages
    const listed = (await node.ctl(['list', '--prefix', 'big/'])).stdout.trim().split('\n')
    assert.equal(listed.length, VALUES)
  })

  it(`resumes a watch over ${VALUES} values of 1 MiB: a snapshot in pages of at most ${MAX_PAGE_VALUE_BYTES / MIB} MiB, a replay a change at a time`, async () => {
    for (const [since, kind] of [[Number.MAX_SAFE_INTEGER, 'snapshot'], [0, 'replay']] as const) {
      const watcher = await RawClient.connect(node.socket)
      try {
        // a cursor this node never gave: the current state, in snapshot pages; 0: every change since the first
        watcher.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'kv_subscribe', params: { prefix: 'big/', since, encoding: 'base64' } }) + '\n')
        const id = (await watcher.next(m => m.id === 1, 60_000)).result
        await watcher.next(m => m.params?.subscription === id && m.params.result.type === 'ready', 120_000)
        const told = watcher.messages.filter(m => m.params?.subscription === id).map(m => m.params.result)
        const before = told.slice(0, told.findIndex(r => r.type === 'ready'))
        const keys: string[] = []
        const sizes: number[] = []
        for (const event of before) {
          const entries = kind === 'snapshot' ? event.entries as Array<{ key: string, value: string }> : [event as { key: string, value: string }]
          assert.equal(event.type, kind === 'snapshot' ? 'snapshot' : 'put')
          const bytes = entries.reduce((sum, e) => sum + Buffer.from(e.value, 'base64').byteLength, 0)
          assert.ok(bytes <= MAX_PAGE_VALUE_BYTES + MIB, `a ${kind} event of ${entries.length} values, ${(bytes / MIB).toFixed(1)} MiB`)
          sizes.push(entries.length)
          keys.push(...entries.map(e => e.key))
        }
        console.log(`# a resumed watch's ${kind}: ${before.length} events${kind === 'snapshot' ? ` of ${sizes.join(', ')} values` : ''}`)
        assert.deepEqual(keys, Array.from({ length: VALUES }, (_, i) => `big/${String(i).padStart(2, '0')}`), `the ${kind} names each key once`)
        if (kind === 'snapshot') assert.ok(before.length >= 3, 'the snapshot came in pages')
      } finally {
        watcher.destroy()
      }
    }
    assert.equal(node.process?.exitCode, null)
  })

  it(`answers a batch of ${READS} reads of a 1 MiB value (~630 MB of JSON) with errors, and goes on serving`, async () => {
    const answers = await client.batch(Array.from({ length: READS }, () => ({ method: 'kv_get' as const, params: { key: 'big/00', encoding: 'base64' } })))
    assert.equal(answers.length, READS)
    assert.ok(answers.every(answer => answer.error?.name === 'AnswerTooLargeError'), JSON.stringify(answers[0]).slice(0, 300))
    assert.match(answers[0]?.error?.message ?? '', /ask for less at once/)
    assert.equal(node.process?.exitCode, null)
    assert.equal((await client.call('kv_get', { key: `big/${VALUES - 1}`, encoding: 'base64' }))?.key, `big/${VALUES - 1}`)
  })
})
