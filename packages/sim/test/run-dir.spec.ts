/**
 * A run's directory (run-dir.ts): named for its process, and those of
 * processes gone (a hunt killed mid-run) removed by the next run.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { runDir } from '../src/run-dir.js'

describe('a run\'s directory', () => {
  const base = mkdtempSync(join(tmpdir(), 'run-dir-'))
  after(() => { rmSync(base, { recursive: true, force: true }) })

  it('is named for this process; a directory a process now gone left is removed, this process\'s and an unnamed one are kept', () => {
    // a process that has ended: its PID names no process now
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString()
    const left = join(base, `murmur-sim-${gone}-abc123`)
    mkdirSync(left)
    writeFileSync(join(left, 'n0.db'), 'x'.repeat(1000))
    const mine = join(base, `murmur-sim-${process.pid}-def456`)
    mkdirSync(mine)
    const unnamed = join(base, 'murmur-sim-ghi789')
    mkdirSync(unnamed)
    const dir = runDir(base)
    assert.match(dir, new RegExp(`murmur-sim-${process.pid}-`))
    assert.deepEqual(readdirSync(base).sort(), [dir.slice(base.length + 1), `murmur-sim-${process.pid}-def456`, 'murmur-sim-ghi789'].sort())
  })
})
