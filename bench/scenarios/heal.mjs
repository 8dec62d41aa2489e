/**
 * 5. Partition heal. On loopback a partition is two halves started without
 * knowing each other: nodes h0+h1 and h2+h3 (each pair connected). 10,000 keys
 * are written on h0 and the same 10,000 keys, with other values, on h2, so
 * every key conflicts and last-writer-wins decides. Healing is `p2p_connect`
 * from every node of one half to every node of the other (the links a
 * healed full mesh redials); timed from the first connect to identical
 * replicas on all four nodes.
 */
import { performance } from 'node:perf_hooks'
import { removeDir, tempDir } from '../lib/daemon.mjs'
import { Cluster, converged } from '../lib/cluster.mjs'
import { batchedPuts, keyOf, valueOf } from '../lib/load.mjs'
import { assertIdentical } from '../lib/replicas.mjs'

const KEYS = 10_000

async function healOnce (run, { links }) {
  const root = tempDir()
  const cluster = new Cluster(root, 'h')
  try {
    // h1 dials h0, h3 dials h2; the halves never meet until healed
    const nodes = await cluster.start(4, { peers: i => i % 2 === 1 ? [i - 1] : [] })
    await cluster.connected(() => 1)
    const [h0, h1, h2, h3] = nodes
    await Promise.all([
      batchedPuts(h0.ctl, { ms: 60_000, max: KEYS, size: 1000, value: i => valueOf(100, i * 2), keyOf: i => keyOf('heal', i) }),
      batchedPuts(h2.ctl, { ms: 60_000, max: KEYS, size: 1000, value: i => valueOf(100, i * 2 + 1), keyOf: i => keyOf('heal', i) })
    ])
    await converged([h0, h1], { timeoutMs: 60_000, pollMs: 100, expectKeys: KEYS })
    await converged([h2, h3], { timeoutMs: 60_000, pollMs: 100, expectKeys: KEYS })
    const pairs = links === 'all' ? [[h0, h2], [h0, h3], [h1, h2], [h1, h3]] : [[h0, h2]]
    const start = performance.now()
    const connectMs = await Promise.all(pairs.map(async ([x, y]) => {
      await x.ctl.call('p2p_connect', { addr: y.addr })
      return performance.now() - start
    }))
    const doneAt = await converged(nodes, { timeoutMs: 60_000, pollMs: 25, expectKeys: KEYS })
    await assertIdentical(nodes)
    return { ms: doneAt - start, connectMs: Math.max(...connectMs) }
  } finally {
    await cluster.stop()
    removeDir(root)
  }
}

export async function heal ({ quick, runs, report, log }) {
  const all = []
  for (let run = 0; run < (quick ? 1 : runs); run++) {
    const h = await healOnce(run, { links: 'all' })
    all.push(h)
    log(`  heal ${run + 1} (every cross link): ${h.ms.toFixed(0)} ms (connects done after ${h.connectMs.toFixed(0)} ms)`)
  }
  report.row({ section: '5 heal', id: 'heal.ms', label: 'heal → identical replicas, 10,000 + 10,000 diverged keys', unit: 'ms', runs: all.map(h => h.ms),
    baseline: { label: 'p2p_connect calls answered', runs: all.map(h => h.connectMs) },
    target: { on: 'value', op: '<=', limit: 3_000, text: '≤ 3,000 ms' },
    note: 'two halves of 2 nodes started unconnected, the same 10,000 keys written on each half with different values (every key conflicts), then p2p_connect from each node of one half to each node of the other; timed from the first p2p_connect to equal version vectors and key counts on all 4 (kv_store rows then compared by SHA-256)' })
  const details = { all }
  if (!quick) {
    // one link only: the far nodes then depend on anti-entropy (every 2.5–7.5 s) to learn what their neighbour pulled
    const one = await healOnce('one', { links: 'one' })
    log(`  heal over a single link: ${one.ms.toFixed(0)} ms`)
    details.oneLink = one
    report.row({ section: '5 heal', id: 'heal.oneLink.ms', label: 'heal over one link only (h0 → h2), same data', unit: 'ms', runs: [one.ms],
      baseline: { label: 'every cross link', runs: [all.map(h => h.ms).sort((a, b) => a - b)[all.length >> 1]] },
      note: 'only h0 and h2 connect; h1 and h3 receive the other half\'s writes only when their next anti-entropy pull (mean --anti-entropy-interval 5 s) reaches their neighbour' })
  }
  report.detail('heal', details)
}
