/**
 * `npm run demo` (scripts/demo.mjs) runs as a user would run it, and its
 * output must show what the README promises: the converged table, the
 * identical SQLite files and the single counter winner.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { run } from './harness.js'

const root = fileURLToPath(new URL('../../../../', import.meta.url))
const DEMO = join(root, 'scripts/demo.mjs')

const CONVERGED_TABLE = [
  ['api:endpoint', 'https://api.example.com', 'bob'],
  ['api:timeout', '30', 'bob'],
  ['cache:enabled', 'true', 'charlie'],
  ['cache:ttl', '3600', 'charlie'],
  ['db:host', 'localhost', 'alice'],
  ['db:port', '3306', 'charlie'],
  ['project:name', 'MyAwesomeProject', 'alice'],
  ['project:version', '1.1.0', 'bob'],
  ['user:alice', 'alice', 'alice'],
  ['user:bob', 'bob', 'bob'],
  ['user:charlie', 'charlie', 'charlie']
]

/** The lines of the section that starts with `<n>. ` and ends before the next one. */
function section (output: string, n: number): string[] {
  const lines = output.split('\n')
  const start = lines.findIndex(line => line.startsWith(`${n}. `))
  assert.notEqual(start, -1, `the output has no section ${n}:\n${output}`)
  const end = lines.findIndex((line, i) => i > start && /^\d+\. /.test(line))
  return lines.slice(start, end === -1 ? undefined : end)
}

const cells = (line: string): string[] => line.trim().split(/\s{2,}/)

describe('npm run demo', () => {
  it('plays the reference scenario and every check passes', async () => {
    const result = await run(process.execPath, [DEMO], { timeoutMs: 120_000, env: { ...process.env, NO_COLOR: '1' } })
    const output = result.stdout
    assert.equal(result.code, 0, `the demo failed (code ${result.code}, signal ${result.signal}):\n${output}\n${result.stderr}`)
    assert.doesNotMatch(output, /\x1b\[/, 'no colour codes when stdout is not a terminal')

    // charlie's last write, timed in each node's file from its commit on charlie: a replication time, nothing else
    const replicated = /✓ charlie's last write reached alice (\d+\.\d) ms and bob (\d+\.\d) ms after it was committed on charlie/.exec(section(output, 2).join('\n'))
    assert.ok(replicated != null, 'the replication line in section 2')
    for (const ms of replicated.slice(1)) assert.ok(Number(ms) >= 0 && Number(ms) < 20_000, `a replication time of ${ms} ms`)

    // the converged table: every key with its value and writer, seen (✓) on all three nodes
    const table = section(output, 4)
    for (const [key, value, writer] of CONVERGED_TABLE) {
      const row = table.map(cells).find(c => c[0] === key)
      assert.deepEqual(row, [key, value, writer, '✓', '✓', '✓'], `converged table row for ${key}`)
    }
    assert.match(table.join('\n'), /✓ converged: `murmurctl list` identical on all 3 nodes \(11 keys\)/)

    // the three SQLite files: one row count and one digest for all three nodes
    const sqlite = section(output, 5).map(cells).filter(c => ['alice', 'bob', 'charlie'].includes(c[0] ?? ''))
    assert.equal(sqlite.length, 3, 'a kv_store summary row per node')
    assert.deepEqual(new Set(sqlite.map(c => `${c[1]} ${c[2]}`)).size, 1, 'the same row count and sha256 on every node')
    assert.equal(sqlite[0]?.[1], '11')
    assert.match(output, /✓ SQLite kv_store rows identical on all 3 nodes\n/)

    // the counter: one winner, the same on all three nodes, and why
    const counter = /✓ counter = (100|200) on alice, bob and charlie \(winner: (alice|bob)\)/.exec(output)
    assert.ok(counter != null, 'the counter winner line')
    assert.equal(counter[2], counter[1] === '100' ? 'alice' : 'bob', 'the winner wrote the winning value')
    assert.match(output, /why: last writer wins on .*(HLC wall time|HLC logical counter|origin peer ID)/)

    // the offline node's writes and the others' meet again, in the database too
    assert.match(output, /✓ both sides caught up \d+ ms after `murmurctl connect` was run: `murmurctl list` identical on all 3 nodes \(13 keys\)/)
    assert.match(output, /✓ SQLite kv_store rows identical on all 3 nodes after the catch-up/)
    assert.match(output, /✓ demo passed: \d+ checks in /)
  })
})
