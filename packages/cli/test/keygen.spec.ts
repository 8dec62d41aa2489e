import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { parseSwarmKey } from '@murmur/protocol'
import { BIN, run } from './run-cli.js'

const KEY_FILE = /^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/

function assertOneLine (stderr: string, pattern: RegExp): void {
  assert.match(stderr, /^murmurctl: [^\n]*\n$/)
  assert.match(stderr, pattern)
}

describe('keygen', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmurctl-keygen-'))
  after(() => { rmSync(dir, { recursive: true, force: true }) })

  it('writes a new swarm key file, mode 0600, in the standard format', async () => {
    const path = join(dir, 'group.key')
    const { code, stdout, stderr } = await run(['keygen', path])
    assert.equal(code, 0, stderr)
    assert.equal(stdout, `OK swarm key written to ${path}; copy it to every member and start each with: murmurd --swarm-key ${path} …\n`)
    assert.equal(statSync(path).mode & 0o777, 0o600)
    const text = readFileSync(path, 'utf8')
    assert.match(text, KEY_FILE)
    assert.equal(parseSwarmKey(text).byteLength, 32)
  })

  it('prints the key to stdout for - or no file, a new key each time', async () => {
    const keys = await Promise.all([run(['keygen']), run(['keygen', '-']), run(['keygen', '-', '--json'])])
    for (const { code, stdout, stderr } of keys) {
      assert.equal(code, 0, stderr)
      assert.equal(stderr, '')
      assert.match(stdout, KEY_FILE)
    }
    assert.equal(new Set(keys.map(k => k.stdout)).size, 3)
  })

  it('prints the file it wrote as JSON with --json', async () => {
    const path = join(dir, 'json.key')
    const { code, stdout } = await run(['--json', 'keygen', path])
    assert.equal(code, 0)
    assert.deepEqual(JSON.parse(stdout), { file: path })
  })

  it('never overwrites an existing file', async () => {
    const path = join(dir, 'existing.key')
    writeFileSync(path, 'precious')
    const { code, stdout, stderr } = await run(['keygen', path])
    assert.equal(code, 1)
    assert.equal(stdout, '')
    assertOneLine(stderr, /already exists; keygen never overwrites a key file/)
    assert.equal(readFileSync(path, 'utf8'), 'precious')
  })

  it('exits 1 with one line when the file cannot be created', async () => {
    const { code, stderr } = await run(['keygen', join(dir, 'no-such-dir', 'group.key')])
    assert.equal(code, 1)
    assertOneLine(stderr, /cannot create .*no-such-dir\/group\.key: ENOENT/)
  })

  it('exits 2 with one line for usage errors, and is listed in --help', async () => {
    const extra = await run(['keygen', join(dir, 'a.key'), join(dir, 'b.key')])
    assert.equal(extra.code, 2)
    assertOneLine(extra.stderr, /too many arguments for 'keygen'/)
    const unknown = await run(['keygen', '--force', join(dir, 'c.key')])
    assert.equal(unknown.code, 2)
    assertOneLine(unknown.stderr, /unknown option '--force'/)
    assert.throws(() => statSync(join(dir, 'a.key')), /ENOENT/)
    assert.match((await run(['--help'])).stdout, /\n {2}keygen \[file\] /)
  })

  it('runs as the bin with a permissive umask and without loading libp2p', () => {
    // a resolve hook that fails the run if anything under libp2p is imported
    const hooks = join(dir, 'hooks.mjs')
    writeFileSync(hooks, `export async function resolve (specifier, context, next) {
  if (/libp2p/.test(specifier)) throw new Error('murmurctl imported ' + specifier)
  return await next(specifier, context)
}\n`)
    const register = join(dir, 'register.mjs')
    writeFileSync(register, `import { register } from 'node:module'\nregister(${JSON.stringify(new URL(`file://${hooks}`).href)})\n`)
    const path = join(dir, 'umask.key')
    const result = spawnSync('sh', ['-c', 'umask 000 && exec "$0" --import "$1" "$2" keygen "$3"', process.execPath, register, BIN, path], { encoding: 'utf8', timeout: 10_000 })
    assert.equal(result.status, 0, result.stderr)
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.match(readFileSync(path, 'utf8'), KEY_FILE)
  })
})
