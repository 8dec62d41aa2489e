/**
 * The embedded node's life cycle under overlapping calls: stop() twice at
 * once, stop() while start() or connect() is under way, start() while a
 * stop() is. Real nodes on loopback, real SQLite files.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Murmur, createMurmur, type MurmurInit } from '../src/index.js'

describe('library API: overlapping start() and stop()', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-lib-stop-'))
  const nodes: Murmur[] = []
  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    rmSync(dir, { recursive: true, force: true })
  })
  const init = (name: string): MurmurInit => ({ name, dataDir: join(dir, name), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false })
  const locked = (node: Murmur): boolean => existsSync(join(node.dataDir, 'murmurd.pid'))

  it('stop() called twice at once: both resolve, each only once the node is stopped', async () => {
    const node = await createMurmur(init('twice'))
    nodes.push(node)
    const lockedWhenResolved: boolean[] = []
    await Promise.all([node.stop(), node.stop()].map(async stop => { await stop; lockedWhenResolved.push(locked(node)) }))
    assert.deepEqual(lockedWhenResolved, [false, false], 'neither stop() resolved before the lock was released')
    assert.equal(node.isRunning, false)
  })

  it('stop() during start(): the node is stopped when stop() resolves, and stays stopped', async () => {
    const node = new Murmur(init('starting'))
    nodes.push(node)
    const starting = node.start()
    await node.stop()
    await starting
    assert.equal(node.isRunning, false, 'the start that was under way did not leave the node running')
    assert.equal(locked(node), false)
  })

  it('start() during stop(): the node starts once the stop is done', async () => {
    const node = await createMurmur(init('restart'))
    nodes.push(node)
    const stopping = node.stop()
    await node.start()
    await stopping
    assert.equal(node.isRunning, true)
    await node.put('after', 'restart')
    await node.stop()
  })

  it('stop() during a connect() that is waiting on a silent peer: stop() resolves and the connect() fails', async () => {
    const sockets = new Set<Socket>()
    const silent = createServer(socket => { sockets.add(socket) })
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    try {
      const node = await createMurmur(init('dialling'))
      nodes.push(node)
      const { port } = silent.address() as { port: number }
      const connecting = node.connect(`/ip4/127.0.0.1/tcp/${port}`)
      connecting.catch(() => {})
      const began = Date.now()
      await node.stop()
      assert.ok(Date.now() - began < 8_000, 'stop() did not wait out the dial timeout')
      await assert.rejects(connecting)
      assert.equal(locked(node), false)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => silent.close(resolve))
    }
  })
})
