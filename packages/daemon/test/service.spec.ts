/**
 * Running murmurd as a systemd service, as far as it can be tried without
 * systemd as init: `systemd-analyze verify` finds nothing to say about the
 * unit, and a real murmurd sends `READY=1` (once its socket answers) and
 * `STOPPING=1` to the datagram socket `NOTIFY_SOCKET` names, standing in for
 * systemd's (socat).
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { TestCluster, root, waitFor } from './harness.js'

const UNIT = join(root, 'scripts/systemd/murmurd@.service')
const has = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0
const missing = ['socat', 'systemd-notify', 'systemd-analyze'].filter(command => !has(command))
const skip = missing.length === 0 ? false : `${missing.join(', ')} not installed (bash scripts/install-test-deps.sh)`

/** A Unix datagram socket at `path` whose datagrams socat prints; `received()` is all of them so far. */
function notifySocket (path: string): { received: () => string, close: () => Promise<void> } {
  const child: ChildProcess = spawn('socat', ['-u', `UNIX-RECV:${path},unlink-early`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  const exited = new Promise(resolve => child.on('exit', resolve))
  return {
    received: () => out,
    close: async () => {
      child.kill('SIGTERM')
      await exited
    }
  }
}

describe('murmurd under systemd', { skip }, () => {
  let cluster: TestCluster
  before(() => { cluster = new TestCluster() })
  after(async () => { await cluster.close() })

  it('the unit passes systemd-analyze verify without a warning, with its hardening in place', () => {
    const unit = join(cluster.dir, 'murmurd@alice.service')
    copyFileSync(UNIT, unit)
    const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' })
    assert.equal(verify.status, 0, verify.stderr)
    assert.equal(verify.stderr.trim(), '', 'systemd-analyze ignores what it cannot parse, with a warning: there must be none')
    const text = readFileSync(UNIT, 'utf8')
    for (const line of ['Type=notify', 'NotifyAccess=all', 'DynamicUser=yes', 'StateDirectory=murmur/%i', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK']) {
      assert.match(text, new RegExp(`^${line}$`, 'm'), line)
    }
  })

  it('tells NOTIFY_SOCKET READY=1 once the RPC socket answers, and STOPPING=1 on SIGTERM', async () => {
    const path = join(cluster.dir, 'notify.sock')
    const systemd = notifySocket(path)
    try {
      await waitFor(() => spawnSync('test', ['-S', path]).status === 0, 'socat to bind the notify socket')
      const node = await cluster.start('sd', { env: { ...process.env, NOTIFY_SOCKET: path } })
      const ready = await waitFor(() => /READY=1/.test(systemd.received()) && systemd.received(), 'READY=1 on the notify socket')
      assert.match(ready, new RegExp(`STATUS=serving default as sd on ${node.socket.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
      assert.doesNotMatch(ready, /STOPPING=1/)
      assert.equal(await node.stop('SIGTERM'), 0)
      await waitFor(() => /STOPPING=1/.test(systemd.received()), 'STOPPING=1 on the notify socket')
    } finally {
      await systemd.close()
    }
  })
})
