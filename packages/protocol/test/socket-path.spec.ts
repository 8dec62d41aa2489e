import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { SocketPathError, checkSocketPath, defaultDataDir, resolveSocketPath } from '../src/index.js'

describe('socket path resolution', () => {
  const env = { HOME: '/home/u' }

  it('defaults the data dir under XDG_DATA_HOME, else ~/.local/share', () => {
    assert.equal(defaultDataDir('alice', env), '/home/u/.local/share/murmur/alice')
    assert.equal(defaultDataDir('alice', { ...env, XDG_DATA_HOME: '/xdg' }), '/xdg/murmur/alice')
  })

  it('prefers flags over the environment, in the order socket, data dir, name', () => {
    const full = { ...env, MURMUR_SOCKET: '/env.sock', MURMUR_DATA_DIR: '/envdir', MURMUR_NAME: 'envname' }
    assert.deepEqual(resolveSocketPath({ socket: '/flag.sock', name: 'x' }, full), { path: '/flag.sock', via: '--socket' })
    assert.deepEqual(resolveSocketPath({ dataDir: '/d', name: 'x' }, full), { path: '/d/murmurd.sock', via: '--data-dir' })
    assert.deepEqual(resolveSocketPath({ name: 'bob' }, full), { path: '/home/u/.local/share/murmur/bob/murmurd.sock', via: '--name' })
    assert.deepEqual(resolveSocketPath({}, full), { path: '/env.sock', via: 'MURMUR_SOCKET' })
    assert.deepEqual(resolveSocketPath({}, { ...env, MURMUR_NAME: 'n' }), { path: '/home/u/.local/share/murmur/n/murmurd.sock', via: 'MURMUR_NAME' })
  })

  it('finds the single daemon under the default root, and asks to choose among several', () => {
    const xdg = mkdtempSync(join(tmpdir(), 'murmur-xdg-'))
    try {
      const e = { ...env, XDG_DATA_HOME: xdg }
      for (const name of ['alice', 'bob']) mkdirSync(join(xdg, 'murmur', name), { recursive: true })
      writeFileSync(join(xdg, 'murmur', 'alice', 'murmurd.sock'), '')
      assert.deepEqual(resolveSocketPath({}, e), { path: join(xdg, 'murmur', 'alice', 'murmurd.sock'), via: 'default' })
      writeFileSync(join(xdg, 'murmur', 'bob', 'murmurd.sock'), '')
      assert.throws(() => resolveSocketPath({}, e), /several murmurd daemons .*alice, bob.*--name/)
    } finally {
      rmSync(xdg, { recursive: true, force: true })
    }
  })

  it('refuses socket paths longer than 107 bytes', () => {
    assert.equal(checkSocketPath('/' + 'a'.repeat(106)), '/' + 'a'.repeat(106))
    assert.throws(() => checkSocketPath('/' + 'a'.repeat(107)), SocketPathError)
    assert.throws(() => checkSocketPath('/' + 'é'.repeat(54)), /109 bytes/)
  })
})
