/**
 * 6. Cost of a node holding many keys: RSS (VmRSS) and time from start to
 * ready (the socket answers node_status) at 0, 100,000 and 1,000,000 keys
 * (--quick: 0 and 30,000). One node; keys written in JSON-RPC
 * batches of 1,000 with 100-byte values; each figure is taken after a
 * restart, once the node has settled, and RSS also right after the writes.
 */
import { join } from 'node:path'
import { Daemon, removeDir, sleep, tempDir } from '../lib/daemon.mjs'
import { batchedPuts, keyOf, valueOf } from '../lib/load.mjs'

const MB = 1e6

export async function cost ({ quick, runs, report, log }) {
  const root = tempDir()
  const node = new Daemon('k0', join(root, 'k0'))
  const settleMs = quick ? 1_000 : 2_000
  const sizes = quick ? [0, 30_000] : [0, 100_000, 1_000_000]
  const at = {}
  let written = 0
  try {
    await node.start()
    for (const size of sizes) {
      if (size > written) {
        const res = await batchedPuts(node.ctl, { ms: 600_000, max: size - written, size: 1000, value: valueOf(100), keyOf: i => keyOf('cost', written + i) })
        written += res.count
        if (written !== size) throw new Error(`wrote ${written} of ${size} keys`)
        await sleep(settleMs)
      }
      const afterWrites = node.rss()
      // does the heap grown by the writes shrink back while the node idles?
      if (!quick && size > 0) await sleep(10_000)
      const idleAfterWrites = node.rss()
      const ready = []
      const rss = []
      for (let run = 0; run < (quick ? 1 : runs); run++) {
        await node.stop()
        const status = await node.start()
        if (status.keys !== size) throw new Error(`node restarted with ${status.keys} keys, expected ${size}`)
        ready.push(node.readyMs)
        await sleep(settleMs)
        await node.status()
        rss.push(node.rss())
      }
      at[size] = { ready, rss, afterWrites, idleAfterWrites }
      log(`  ${size.toLocaleString('en-US')} keys: ready ${ready.map(x => x.toFixed(0)).join(' / ')} ms, RSS ${rss.map(x => (x / MB).toFixed(0)).join(' / ')} MB (${(afterWrites / MB).toFixed(0)} MB right after writing, ${(idleAfterWrites / MB).toFixed(0)} MB 10 s later)`)
    }
  } finally {
    await node.stop()
    removeDir(root)
  }
  const S = '6 cost'
  const base = at[0]
  report.row({ section: S, id: 'ready.0', label: 'start → ready with an empty store', unit: 'ms', runs: base.ready,
    target: { on: 'value', op: '<=', limit: 500, text: '≤ 500 ms' },
    note: 'from spawning murmurd to its socket answering node_status (polled every 10 ms)' })
  for (const size of sizes.slice(1)) {
    const big = size === 1_000_000
    const label = size.toLocaleString('en-US')
    report.row({ section: S, id: `rss.${size}`, label: `RSS with ${label} keys (restarted, settled)`, unit: 'MB', runs: at[size].rss.map(b => b / MB),
      baseline: { label: 'RSS with 0 keys', runs: base.rss.map(b => b / MB) },
      target: big ? { on: 'value', op: '<=', limit: 150, text: '≤ 150 MB' } : undefined,
      note: big ? 'VmRSS from /proc/<pid>/status (MB = 10^6 bytes), one node alone, after a restart and a node_status call' : undefined })
    report.row({ section: S, id: `rss.${size}.afterWrites`, label: `RSS right after writing ${label} keys`, unit: 'MB', runs: [at[size].afterWrites / MB],
      baseline: { label: 'RSS with 0 keys', runs: [base.rss[0] / MB] },
      target: big ? { on: 'value', op: '<=', limit: 150, text: '≤ 150 MB' } : undefined,
      note: big ? `the same process that took the writes (JSON-RPC batches of 1,000), ${settleMs / 1000} s after the last one; ${(at[size].idleAfterWrites / MB).toFixed(0)} MB after 10 s more idle` : undefined })
    report.row({ section: S, id: `ready.${size}`, label: `start → ready with ${label} keys`, unit: 'ms', runs: at[size].ready,
      baseline: { label: 'with 0 keys', runs: base.ready },
      target: big ? { on: 'value', op: '<=', limit: 1_000, text: '≤ 1,000 ms' } : undefined,
      note: big ? 'from spawning murmurd to its socket answering node_status (polled every 10 ms)' : undefined })
  }
  if (quick) report.row({ section: S, id: 'rss.1000000', label: 'RSS and ready with 1,000,000 keys', unit: '', runs: [NaN], note: 'full run only (writing 1,000,000 keys takes longer than --quick allows)' })
  report.detail('cost', at)
}
