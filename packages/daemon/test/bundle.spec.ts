/**
 * The murmurd bin runs dist/bundle/murmurd.js (scripts/bundle.mjs, run by
 * `npm run build`): check that it is built from the current sources, and
 * that what a node needs only when a feature is on stays out of its start.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { root } from './harness.js'

const BUNDLE = join(root, 'packages/daemon/dist/bundle')

interface Meta {
  inputs: Record<string, unknown>
  outputs: Record<string, { entryPoint?: string, inputs: Record<string, unknown>, imports: Array<{ path: string, kind: string, external?: boolean }> }>
}

const meta = (): Meta => JSON.parse(readFileSync(join(BUNDLE, 'meta.json'), 'utf8')) as Meta

/** Every output file that loads with the entry, before any dynamic import. */
function startOutputs ({ outputs }: Meta): string[] {
  const entry = Object.keys(outputs).find(path => outputs[path]?.entryPoint != null)
  assert.ok(entry != null, 'meta.json names the entry')
  const seen = new Set<string>()
  const visit = (path: string): void => {
    if (seen.has(path)) return
    seen.add(path)
    for (const i of outputs[path]?.imports ?? []) if (i.kind === 'import-statement' && i.external !== true) visit(i.path)
  }
  visit(entry)
  return [...seen]
}

/** The inputs of every output file that loads with the entry, before any dynamic import. */
function loadedAtStart (m: Meta): string[] {
  return startOutputs(m).flatMap(path => Object.keys(m.outputs[path]?.inputs ?? {}))
}

describe('murmurd bundle', () => {
  it('is newer than every compiled source it is built from (else run npm run build)', () => {
    const built = statSync(join(BUNDLE, 'murmurd.js')).mtimeMs
    const sources = ['daemon', 'core', 'protocol'].flatMap(pkg => {
      const dir = join(root, 'packages', pkg, 'dist/src')
      return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter(f => f.endsWith('.js')).map(f => join(dir, f))
    })
    assert.ok(sources.length > 50)
    assert.deepEqual(sources.filter(f => statSync(f).mtimeMs > built), [], 'the bundle is older than these: run `npm run build`')
  })

  it('loads mDNS, the DHT, the swarm-key protector and pino-pretty only when a node uses them', () => {
    const m = meta()
    const lazy = /node_modules\/(@libp2p\/(kad-dht|mdns|pnet)|pino-pretty)\//
    assert.ok(Object.keys(m.inputs).filter(i => lazy.test(i)).length > 10, 'they are in the bundle')
    assert.deepEqual(loadedAtStart(m).filter(i => lazy.test(i)), [])
  })

  it('leaves prom-client and ajv out: a node with metrics on, or with a schema, requires them from node_modules when it needs them', () => {
    assert.deepEqual(Object.keys(meta().inputs).filter(i => i.includes('node_modules/prom-client/') || /node_modules\/ajv\//.test(i)), [])
  })

  it('sorts in the peer store without ICU collation (localeCompare): only commander\'s help still uses it', () => {
    // the bundle is minified, so no comment marks where a module starts: count the calls instead
    const text = readFileSync(join(BUNDLE, 'murmurd.js'), 'utf8')
    const commander = readdirSync(join(root, 'node_modules/commander/lib')).map(f => readFileSync(join(root, 'node_modules/commander/lib', f), 'utf8'))
    const calls = (s: string): number => s.split('.localeCompare(').length - 1
    assert.ok(text.includes('__codeUnitOrder('), 'the peer store sorts by code units')
    assert.equal(calls(text), commander.reduce((n, s) => n + calls(s), 0))
  })

  it('is minified: V8 keeps the source, and comments and indentation were a third of it', () => {
    const text = readFileSync(join(BUNDLE, 'murmurd.js'), 'utf8')
    assert.ok(text.split('\n').length < 2_000, `${text.split('\n').length} lines`)
  })

  it('hashes noise\'s handshakes with node:crypto: as-sha256\'s WebAssembly is not in it (as-chacha20poly1305\'s, for speed, is)', () => {
    const inputs = loadedAtStart(meta())
    assert.deepEqual(inputs.filter(i => /node_modules\/@chainsafe\/as-sha256\//.test(i)), [])
    assert.ok(inputs.some(i => /node_modules\/@chainsafe\/as-chacha20poly1305\//.test(i)), 'noise keeps its small-message AEAD')
  })

  it('imports node:http only for --metrics', () => {
    const { outputs } = meta()
    const heavy = /^(node:)?http$/
    const imported = startOutputs(meta()).flatMap(path => outputs[path]?.imports ?? []).filter(i => i.external === true && i.kind === 'import-statement' && heavy.test(i.path))
    assert.deepEqual(imported.map(i => i.path), [])
  })

  it('is ASCII, so V8 keeps its source at one byte a character', () => {
    for (const file of readdirSync(BUNDLE).filter(f => f.endsWith('.js'))) {
      const text = readFileSync(join(BUNDLE, file), 'utf8')
      const at = text.search(/[^\x00-\x7f]/)
      assert.equal(at, -1, `${file} has a non-ASCII character: …${text.slice(Math.max(0, at - 40), at + 10)}…`)
    }
  })

  it('holds zod/mini, not classic zod and its locales', () => {
    const zod = loadedAtStart(meta()).filter(i => i.includes('node_modules/zod/'))
    assert.ok(zod.some(i => i.includes('/v4/mini/')))
    assert.deepEqual(zod.filter(i => i.includes('/v4/classic/') || (i.includes('/locales/') && !i.endsWith('/en.js'))), [])
  })
})
