/**
 * The bin runs dist/bundle/murmurctl.cjs (scripts/bundle.mjs, run by
 * `npm run build`), not dist/src: check that the bundle is the code under
 * test, and that it holds nothing murmurctl must not load.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'
import { BIN } from './run-cli.js'

const CLI = fileURLToPath(new URL('../../', import.meta.url))
const BUNDLE = join(CLI, 'dist/bundle/murmurctl.cjs')
const META = join(CLI, 'dist/bundle/meta.json')

function compiledFiles (dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(f => f.endsWith('.js')).map(f => join(dir, f))
}

describe('bundle', () => {
  it('is newer than every compiled source it is built from (else run npm run build)', () => {
    const built = statSync(BUNDLE).mtimeMs
    const sources = [...compiledFiles(join(CLI, 'dist/src')), ...compiledFiles(join(CLI, '../protocol/dist/src'))]
    assert.ok(sources.length > 10)
    const newer = sources.filter(f => statSync(f).mtimeMs > built)
    assert.deepEqual(newer, [], 'the bundle is older than these: run `npm run build`')
  })

  it('holds no zod, libp2p, pino or SQLite, and no daemon or core code', () => {
    const inputs = Object.keys((JSON.parse(readFileSync(META, 'utf8')) as { inputs: Record<string, unknown> }).inputs)
    assert.ok(inputs.some(i => i.includes('commander')), 'meta.json lists the inputs')
    const forbidden = inputs.filter(i => /node_modules\/(zod|libp2p|@libp2p|pino|better-sqlite3)\/|packages\/(daemon|core)\//.test(i))
    assert.deepEqual(forbidden, [])
  })

  it('is what the bin runs, and all it loads: the bin and the bundle, nothing from dist/src or node_modules', async () => {
    const { version } = JSON.parse(readFileSync(join(CLI, 'package.json'), 'utf8')) as { version: string }
    // -e puts the arguments at argv[1…]; the bin reads argv[2…], so 'bin' fills argv[1] as a script path would
    const probe = `process.on('exit', () => process.stderr.write(JSON.stringify(Object.keys(require.cache)))); require(${JSON.stringify(BIN)})`
    const child = spawnSync(process.execPath, ['-e', probe, 'bin', '--version'], { encoding: 'utf8', timeout: 10_000 })
    assert.equal(child.status, 0, child.stderr)
    assert.equal(child.stdout, `${version}\n`)
    assert.deepEqual(JSON.parse(child.stderr), [BIN, BUNDLE])
  })
})
