/**
 * 9. Relayed catch-up: a node holding 100,000 keys (30,000 with --quick)
 * holds a reservation on a bare circuit relay (bench/lib/bare-relay.mjs: no
 * replica of its own, so the keys can only come from the node behind it). A
 * new, empty node joins it with --peer of its direct address, then another
 * with --peer of its relayed address only: time from each one's start to a
 * full replica, and the relayed/direct ratio, measured in the same run.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Daemon, removeDir, sleep, tempDir } from '../lib/daemon.mjs'
import { batchedPuts, keyOf, valueOf } from '../lib/load.mjs'
import { timeToReplica, CATCHUP_KEYS } from './catchup.mjs'

const BARE_RELAY = fileURLToPath(new URL('../lib/bare-relay.mjs', import.meta.url))

async function startRelay () {
  const child = spawn(process.execPath, [BARE_RELAY], { stdio: ['ignore', 'pipe', 'inherit'] })
  const [line] = await Promise.race([once(child.stdout, 'data'), sleep(30_000).then(() => { throw new Error('the bare relay did not start within 30 s') })])
  return { child, addr: String(line).trim() }
}

/** The node's relayed address, once it holds a reservation (within 30 s). */
async function relayedAddr (node) {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(50)) {
    const addr = (await node.status()).addrs.find(a => a.includes('/p2p-circuit'))
    if (addr != null) return addr
  }
  throw new Error(`${node.name} holds no relay reservation after 30 s`)
}

export async function relay ({ quick, runs, report, log }) {
  const keys = quick ? 30_000 : CATCHUP_KEYS
  const r = { direct: [], relayed: [] }
  for (let run = 0; run < (quick ? 1 : runs); run++) {
    const root = tempDir()
    const hub = await startRelay()
    const nodes = []
    try {
      const a = new Daemon('a', join(root, 'a'), { peers: [hub.addr] })
      nodes.push(a)
      await a.start()
      const viaRelay = await relayedAddr(a)
      await batchedPuts(a.ctl, { ms: 120_000, max: keys, size: 1000, value: i => valueOf(100, i), keyOf: i => keyOf(`rl${run}`, i) })
      // alternate which goes first, so neither always meets a warmer node a
      const order = run % 2 === 0 ? ['direct', 'relayed'] : ['relayed', 'direct']
      for (const kind of order) {
        const node = new Daemon(`${kind}${run}`, join(root, kind), { peers: [kind === 'direct' ? a.addr : viaRelay] })
        nodes.push(node)
        const t = await timeToReplica(node, [a], { expectKeys: keys })
        const path = (await node.ctl.call('p2p_peers')).find(p => p.id === a.id)?.connection
        if (path !== kind) throw new Error(`the ${kind} node reached a by a ${path} connection`)
        r[kind].push(t.totalMs)
        log(`  ${kind} ${run + 1}: ${t.totalMs.toFixed(0)} ms from start to ${keys.toLocaleString('en-US')} keys (ready after ${t.readyMs.toFixed(0)} ms)`)
        await node.stop()
      }
    } finally {
      for (const node of nodes) await node.stop()
      hub.child.kill('SIGTERM')
      removeDir(root)
    }
  }
  report.row({ section: '9 relay', id: 'relay.catchup.ms', label: `new node → full replica of ${keys.toLocaleString('en-US')} keys, through a relay`, unit: 'ms', runs: r.relayed,
    baseline: { label: 'the same, direct', runs: r.direct },
    note: 'node a holds a reservation on a bare circuit relay v2 (murmur\'s limits, no replica); one new node dials a directly, another only a\'s relayed address; each timed from its spawn to the same version vector and key count as a, all on 127.0.0.1' })
  report.detail('relay', r)
}
