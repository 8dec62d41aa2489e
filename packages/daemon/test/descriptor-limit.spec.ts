/**
 * murmurd out of file descriptors (prlimit on a running process): clients
 * past the limit wait or are refused, the node keeps running, and once
 * descriptors free up it serves again with its data intact.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { TestCluster, waitFor } from './harness.js'

const prlimit = spawnSync('prlimit', ['--version']).status === 0 ? false : 'prlimit (util-linux) is not installed'

describe('descriptor exhaustion (murmurd under prlimit)', { skip: prlimit }, () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('keeps running when it runs out of file descriptors, and serves again once they free up', async () => {
    const node = await cluster.start('fds')
    const pid = Number(readFileSync(join(node.dataDir, 'murmurd.pid'), 'utf8'))
    await node.put('kept', 'intact')
    // lowered once murmurd is up: Node's module loader itself fails with few descriptors
    const limit = readdirSync(`/proc/${pid}/fd`).length + 16
    assert.equal(spawnSync('prlimit', ['--pid', String(pid), `--nofile=${limit}`]).status, 0)
    const answered = new Set<number>()
    const sockets = Array.from({ length: 40 }, (_, i) => {
      const s = connect(node.socket)
      s.on('error', () => {})
      s.on('connect', () => { s.write(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'kv_get', params: { key: 'kept' } }) + '\n') })
      s.once('data', () => { answered.add(i) })
      return s
    })
    // past the limit, connections wait in the listen backlog (or libuv sheds them with a reset)
    await waitFor(() => answered.size >= 8, 'connections up to the descriptor limit to be answered', 10_000)
    await new Promise(resolve => setTimeout(resolve, 500))
    const waiting = sockets.filter((s, i) => !answered.has(i) && !s.destroyed)
    assert.ok(answered.size < sockets.length, `${answered.size} of ${sockets.length} answered at once`)
    assert.equal(node.process?.exitCode, null, 'murmurd is still running')
    sockets.forEach((s, i) => { if (answered.has(i)) s.destroy() })
    await waitFor(() => sockets.every((s, i) => answered.has(i) || s.destroyed), 'the waiting connections to be answered once descriptors free up', 10_000)
    console.log(`# ${sockets.length} connections at a limit of ${limit} descriptors: ${answered.size - waiting.length} answered at once, ${waiting.length} waited, ${sockets.length - answered.size} shed`)
    for (const s of sockets) s.destroy()
    await waitFor(async () => (await node.ctl(['get', 'kept'])).stdout === 'intact\n', 'murmurd to serve again')
    assert.equal(node.process?.exitCode, null, 'murmurd is still running')
  })
})
