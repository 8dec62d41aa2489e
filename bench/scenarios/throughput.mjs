/**
 * 1. Write throughput on one node: one client with sequential kv_put, 16
 * clients on 16 sockets, and JSON-RPC batches of 1,000 puts; against raw
 * better-sqlite3 inserts into an identical table with the same synchronous
 * setting, run in its own process between the murmur measurements.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { Daemon, ROOT, removeDir, tempDir } from '../lib/daemon.mjs'
import { batchedPuts, concurrentPuts, sequentialPuts, valueOf, warmUp } from '../lib/load.mjs'

const VALUE_BYTES = 100
const CLIENTS = 16
const BATCH = 1000

async function sqliteBaseline (dir, ms) {
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, [join(ROOT, 'bench/sqlite-baseline.mjs'), dir, String(ms), String(VALUE_BYTES), 'FULL'],
      { timeout: ms * 4 + 30_000 }, (err, stdout) => err ? reject(err) : resolve(stdout))
  })
  return JSON.parse(out)
}

export async function throughput ({ quick, runs, report, log }) {
  const ms = quick ? 1_000 : 3_000
  const dir = tempDir()
  const node = new Daemon('w0', join(dir, 'w0'))
  await node.start()
  const clients = [node.ctl, ...await Promise.all(Array.from({ length: CLIENTS - 1 }, async () => await node.client()))]
  const value = valueOf(VALUE_BYTES)
  const r = { rawSingle: [], rawLarge: [], seq: [], conc: [], batch: [], get: [] }
  try {
    // warm up (V8's optimizing compiler, page cache, first WAL checkpoint) without timing it
    await warmUp(clients, { ms: quick ? 2_000 : 6_000, value })
    for (let run = 0; run < runs; run++) {
      const raw = await sqliteBaseline(dir, ms)
      r.rawSingle.push(raw.singleRowTxPerSec)
      r.rawLarge.push(raw.largeTxRowsPerSec)
      const rate = ({ count, seconds }) => count / seconds
      r.seq.push(rate(await sequentialPuts(node.ctl, { prefix: `seq${run}`, ms, max: 200_000, value })))
      r.conc.push(rate(await concurrentPuts(clients, { prefix: `conc${run}`, ms, max: 500_000, value })))
      r.batch.push(rate(await batchedPuts(node.ctl, { prefix: `batch${run}`, ms, max: 2_000_000, size: BATCH, value })))
      // the RPC floor: a read that touches SQLite but never fsyncs
      const start = performance.now()
      let n = 0
      while (n < 200_000 && performance.now() - start < ms / 2) await node.ctl.call('kv_get', { key: `seq${run}:${n++ % 100}` })
      r.get.push(n / ((performance.now() - start) / 1000))
      log(`  run ${run + 1}: raw 1-row tx ${r.rawSingle.at(-1).toFixed(0)}/s, seq put ${r.seq.at(-1).toFixed(0)}/s, ` +
        `${CLIENTS} clients ${r.conc.at(-1).toFixed(0)}/s, batches ${r.batch.at(-1).toFixed(0)}/s (raw large tx ${r.rawLarge.at(-1).toFixed(0)}/s), kv_get ${r.get.at(-1).toFixed(0)}/s`)
    }
  } finally {
    for (const c of clients) c.close()
    await node.stop()
    removeDir(dir)
  }
  const S = '1 write'
  report.row({ section: S, id: 'put.sequential', label: 'sequential kv_put, 1 client', unit: 'puts/s', runs: r.seq,
    baseline: { label: 'raw SQLite, 1 row/tx, FULL', runs: r.rawSingle, unit: 'rows/s' },
    target: { on: 'ratio', op: '>=', limit: 0.7, text: '≥ 0.70× raw' } })
  report.row({ section: S, id: 'put.concurrent', label: `kv_put, ${CLIENTS} clients (${CLIENTS} sockets)`, unit: 'puts/s', runs: r.conc,
    baseline: { label: '1 client', runs: r.seq },
    target: { on: 'ratio', op: '>=', limit: 5, text: '≥ 5× 1 client' } })
  report.row({ section: S, id: 'put.batched', label: `kv_put in JSON-RPC batches of ${BATCH.toLocaleString('en-US')}`, unit: 'keys/s', runs: r.batch,
    baseline: { label: 'raw SQLite, 10,000 rows/tx', runs: r.rawLarge, unit: 'rows/s' },
    target: { on: 'value', op: '>=', limit: 100_000, text: '≥ 100,000 keys/s' } })
  report.row({ section: S, id: 'get.sequential', label: 'sequential kv_get, 1 client (RPC floor)', unit: 'calls/s', runs: r.get,
    baseline: { label: 'sequential kv_put', runs: r.seq } })
  report.detail('throughput', { ms, valueBytes: VALUE_BYTES, ...r })
}
