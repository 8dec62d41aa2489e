import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { isolatedEnv, run, spawnCli, waitFor } from './run-cli.js'

describe('unreachable daemon', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmurctl-'))
  const path = join(dir, 'murmurd.sock')
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('exits 3 in-process, naming the path, how it was found, and how to start murmurd', async () => {
    const { code, stdout, stderr } = await run(['--socket', path, 'get', 'k'])
    assert.equal(code, 3)
    assert.equal(stdout, '')
    assert.equal(stderr, `murmurctl: cannot reach murmurd at ${path} (from --socket): no socket there; start it with: murmurd --data-dir ${dir}\n`)
  })

  it('exits 3 from the real bin', async () => {
    const { code, stderr } = await spawnCli(['--socket', path, 'status']).exit
    assert.equal(code, 3)
    assert.match(stderr, /^murmurctl: cannot reach murmurd at \S+murmurd\.sock \(from --socket\)[^\n]*\n$/)
    assert.ok(stderr.includes(path))
  })

  it('exec waiting for murmurd, its command not started yet, stops on SIGTERM and SIGINT (exit 128 + the signal)', async () => {
    for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
      const cli = spawnCli(['--socket', path, 'exec', '--prefix', 'a/', '--', 'true'], { deadlineMs: 20_000 })
      await waitFor(() => /retrying every/.test(cli.stderr.text), 'murmurctl exec to wait for murmurd', 15_000)
      cli.kill(signal)
      const { code: exited, stderr } = await cli.exit
      assert.equal(exited, code, stderr)
      assert.match(stderr, new RegExp(`stopped by ${signal} before true started\n$`))
    }
  })

  it('names the daemon to start when the socket came from MURMUR_NAME', async () => {
    const env = { ...isolatedEnv(), MURMUR_NAME: 'alice' }
    const { code, stderr } = await run(['status'], { env })
    assert.equal(code, 3)
    assert.match(stderr, /murmur\/alice\/murmurd\.sock \(from \$MURMUR_NAME\)/)
    assert.match(stderr, /start it with: murmurd --name alice\n$/)
  })

  it('says nothing was configured when falling back to the default location', async () => {
    const { code, stderr } = await run(['status'])
    assert.equal(code, 3)
    assert.match(stderr, /<name>\/murmurd\.sock \(default location[^)]*\)/)
    assert.match(stderr, /start it with: murmurd --name <name>\n$/)
  })

  it('exits 3 with the resolver\'s message when several daemons could be meant', async () => {
    const env = isolatedEnv()
    const root = join(env.XDG_DATA_HOME as string, 'murmur')
    for (const name of ['alice', 'bob']) {
      mkdirSync(join(root, name), { recursive: true })
      writeFileSync(join(root, name, 'murmurd.sock'), '')
    }
    try {
      const { code, stderr } = await run(['status'], { env })
      assert.equal(code, 3)
      assert.match(stderr, /^murmurctl: several murmurd daemons run under .* \(alice, bob\): pick one with --name\n$/)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
