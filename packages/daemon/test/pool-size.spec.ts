/**
 * The systemd unit and the container image run murmurd with one V8 worker
 * thread beside the main one, not Node's four (`NODE_OPTIONS=--v8-pool-size=1`:
 * ~2 MB less RSS an idle node; README, Performance, "An idle node"). Node takes
 * the flag only at start, from its command line or NODE_OPTIONS, and refuses
 * to start on an option NODE_OPTIONS does not allow: this starts real murmurd
 * with the environment each file sets, next to one without it.
 * `scripts/node-versions.sh` runs this file on Node 22 and 24 too.
 */
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { MURMURCTL, TestCluster, root, rssMb, run, type RunResult } from './harness.js'

/** What `NODE_OPTIONS` the unit's `Environment=` lines and the image's `ENV` set. */
function shipped (): { unit?: string, image?: string } {
  const unit = readFileSync(join(root, 'scripts/systemd/murmurd@.service'), 'utf8')
  const image = readFileSync(join(root, 'docker/Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ')
  return {
    unit: /^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1],
    image: /^ENV .*\bNODE_OPTIONS=(\S+)/m.exec(image)?.[1]
  }
}

/** A process's threads, V8's workers among them (named `node` up to Node 22, `V8Worker` in 24). */
function threads (pid: number): number {
  return readdirSync(`/proc/${pid}/task`).length
}

describe('murmurd\'s V8 worker threads, as the unit and the image start it', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it(`on Node ${process.version}: the unit and the image set one V8 worker, which murmurd starts with (three threads fewer) and murmurctl runs under`, async () => {
    const { unit, image } = shipped()
    assert.equal(unit, '--v8-pool-size=1', 'the unit sets NODE_OPTIONS')
    assert.equal(image, unit, 'the image sets the same NODE_OPTIONS as the unit')
    const env = { ...process.env, NODE_OPTIONS: unit }
    const lean = await cluster.start('lean', { env })
    const plain = await cluster.start('plain')
    const [leanPid, plainPid] = [lean.process?.pid as number, plain.process?.pid as number]
    console.log(`# ${process.version}: ${threads(leanPid)} threads with NODE_OPTIONS=${unit}, ${threads(plainPid)} without; RSS ${rssMb(leanPid).toFixed(1)} and ${rssMb(plainPid).toFixed(1)} MB just started`)
    assert.ok(threads(leanPid) <= threads(plainPid) - 3, `${threads(leanPid)} threads, against ${threads(plainPid)} with Node's four workers`)
    // murmurctl, which the image's health check runs under the same environment, and murmurd both serve as ever
    const ctl = async (args: string[]): Promise<RunResult> => await run(process.execPath, [MURMURCTL, '--socket', lean.socket, ...args], { env })
    assert.equal((await ctl(['put', 'k', 'v'])).code, 0)
    assert.equal((await ctl(['get', 'k'])).stdout.trim(), 'v')
  })
})
