/**
 * 10. A watch resuming: one murmurd; a subscription notes its cursor
 * (`since: 'now'`), 100,000 keys (100-byte values; 20,000 with --quick) are
 * written in batches of 1,000, and a new subscription with `since` set to
 * that cursor is timed from the request to its `ready` mark, every missed
 * change received. Baseline, in the same run: reading the same keys with
 * kv_list pages (what a client that cannot resume must do instead).
 */
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Daemon, removeDir, tempDir } from '../lib/daemon.mjs'
import { batchedPuts, keyOf, valueOf } from '../lib/load.mjs'
import { RpcClient } from '../lib/rpc.mjs'

/** Subscribes with `since` and resolves when `ready` arrives: { ms, changes, cursor }. */
async function resumeFrom (socket, since) {
  const client = await RpcClient.connect(socket)
  try {
    let changes = 0
    const ready = new Promise(resolve => {
      client.onNotification = ({ result }) => {
        if (result.type === 'ready') resolve(result.cursor)
        else changes++
      }
    })
    const start = performance.now()
    await client.call('kv_subscribe', { since })
    const cursor = await ready
    return { ms: performance.now() - start, changes, cursor }
  } finally {
    client.close()
  }
}

/** Every key under `prefix` read with kv_list pages: ms. */
async function listAll (client, prefix) {
  const start = performance.now()
  let after
  do {
    const page = await client.call('kv_list', { prefix, after, limit: 10_000 })
    after = page.next
  } while (after != null)
  return performance.now() - start
}

export async function resume ({ quick, runs, report, log }) {
  const keys = quick ? 20_000 : 100_000
  const count = keys.toLocaleString('en-US')
  const root = tempDir()
  const node = new Daemon('resume', join(root, 'resume'))
  const r = { resume: [], list: [] }
  try {
    await node.start()
    for (let run = 0; run < runs; run++) {
      const { cursor } = await resumeFrom(node.socket, 'now')
      const prefix = `rs${run}`
      await batchedPuts(node.ctl, { ms: 300_000, max: keys, size: 1000, value: i => valueOf(100, i), keyOf: i => keyOf(prefix, i) })
      const resumed = await resumeFrom(node.socket, cursor)
      if (resumed.changes !== keys) throw new Error(`the resumed watch got ${resumed.changes} changes, not ${keys}`)
      r.resume.push(resumed.ms)
      r.list.push(await listAll(node.ctl, `${prefix}:`))
      log(`  run ${run + 1}: resumed after ${count} missed changes in ${resumed.ms.toFixed(0)} ms; kv_list of them ${r.list.at(-1).toFixed(0)} ms`)
    }
    report.row({ section: '10 resume', id: 'resume.missed', label: `watch resuming after ${count} missed changes (request to ready)`, unit: 'ms', runs: r.resume,
      baseline: { label: `kv_list of the same ${count} keys`, runs: r.list },
      note: 'one murmurd; every missed change is delivered as a notification before ready' })
  } finally {
    await node.stop()
    removeDir(root)
  }
}
