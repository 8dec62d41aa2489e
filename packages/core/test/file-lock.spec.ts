/**
 * `lockFile`: the kernel lock murmurd holds on its data dir. One holder at a
 * time, in this process or another, and gone with its process however the
 * process ends (no pid to judge).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { lockFile } from '../src/index.js'
import { tempDir } from './helpers.js'

const dir = tempDir()

describe('lockFile', () => {
  it('has one holder in this process, until it releases', () => {
    const path = join(dir, 'here.lock')
    const first = lockFile(path, 0)
    assert.ok(first !== undefined)
    assert.equal(lockFile(path, 50), undefined, 'a second connection in this process finds it locked')
    first.release()
    const again = lockFile(path, 0)
    assert.ok(again !== undefined, 'released: locked again at once')
    again.release()
  })

  it('is refused while another process holds it, and free once that process is killed', async () => {
    const path = join(dir, 'there.lock')
    const holder = spawn(process.execPath, ['--input-type=module', '-e',
      // the lock is kept where the collector cannot take it: a FileLock no one holds closes its database, and its lock goes
      // (a CI run found the lock free while the holder lived, once)
      `import { lockFile } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)}; globalThis.held = lockFile(process.argv[1], 0); if (globalThis.held) console.log('held'); setInterval(() => {}, 1000)`, path],
    { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.once('data', () => { resolve() })
        holder.once('exit', code => { reject(new Error(`the holder exited (${code}) without the lock`)) })
      })
      assert.equal(lockFile(path, 50), undefined)
    } finally {
      holder.kill('SIGKILL')
    }
    await new Promise(resolve => holder.once('exit', resolve))
    const taken = lockFile(path, 0)
    assert.ok(taken !== undefined, 'the kernel dropped the killed holder\'s lock')
    taken.release()
  })
})
