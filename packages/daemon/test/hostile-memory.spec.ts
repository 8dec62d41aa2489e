/**
 * A hostile member cannot fill a real murmurd's memory (README, Security:
 * what a member cannot do). Ops that arrive past a gap in their writer's
 * sequence wait for the missing one, within a byte budget (64 MiB); a member
 * that serves far more than that past a seq it never sends gets the rest
 * refused, and none of it counted as held. Once the gap is filled the node
 * pulls the refused ops again and ends holding every one.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, describe, it } from 'node:test'
import type { Frame, Op } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, waitFor } from './harness.js'

/** The replica's default budget for ops waiting past a gap (core's `PendingOps`). */
const BUDGET = 64 * 1024 * 1024
/** 112 ops of 640 KiB, seq 2 on: 70 MiB, just past the budget (each pass costs the machine: other specs run beside it). */
const OPS = 112
const VALUE_BYTES = 640 * 1024
const done: Frame = { kind: 'control', message: { t: 'done' } }

const rssBytes = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024

describe('a member that sends ops past a gap it never fills', () => {
  const cluster = new TestCluster()
  let attacker: Attacker | undefined
  after(async () => {
    await attacker?.stop()
    await cluster.close()
  })

  it('keeps the waiting ops within their byte budget, counts none of them, and takes them all once the gap is filled', async () => {
    const alice = await cluster.start('alice', { args: ['--anti-entropy-interval', '300', '--anti-entropy-max-interval', '300'] })
    attacker = await Attacker.start()
    const mallory = attacker
    const base = Date.now()
    const ops: Op[] = []
    for (let seq = 1; seq <= OPS + 1; seq++) ops.push(mallory.op(`big:${seq}`, String(seq % 10).repeat(VALUE_BYTES), { seq, wall: base + seq }, false))
    mallory.sign(ops)
    let gapFilled = false
    // seq 2 on, an op a frame (a frame holds at most about 1 MiB); seq 1 only once the test says so
    mallory.answer = (_puller, hello) => [mallory.hello(hello), ...(gapFilled ? ops : ops.slice(1)).map(op => ({ kind: 'ops', ops: [op] }) as Frame), done]
    const rssBefore = rssBytes(alice.process?.pid as number)
    await mallory.dial(await alice.addr())
    await mallory.pull(await alice.addr()) // its hello shows it a member: alice's anti-entropy pulls from it

    // every pull brings the whole 70 MiB again: watch what alice keeps while one comes whole and the next begins
    let most = 0
    const pulls = mallory.pulls.length
    await waitFor(async () => {
      const status = await alice.status()
      most = Math.max(most, status.replication.waitingBytes)
      assert.equal(status.versionVector[mallory.id], undefined, 'nothing of mallory\'s counted while seq 1 is missing')
      assert.equal(status.keys, 0, 'nothing of mallory\'s applied while seq 1 is missing')
      return mallory.pulls.length >= pulls + 2 && status.replication.waitingBytes > 0
    }, 'alice to pull everything from mallory, and begin again', 60_000)
    const rssDuring = rssBytes(alice.process?.pid as number)
    console.log(`waiting ops: at most ${(most / 2 ** 20).toFixed(1)} MiB of ${OPS * VALUE_BYTES / 2 ** 20} MiB served past the gap; alice's RSS ${(rssBefore / 1e6).toFixed(0)} → ${(rssDuring / 1e6).toFixed(0)} MB`)
    assert.ok(most > BUDGET / 2, `the waiting ops fill the budget (${most} bytes): the test sends enough to overflow it`)
    assert.ok(most <= BUDGET, `the waiting ops stay within the budget: ${most} bytes`)

    gapFilled = true
    const status = await waitFor(async () => {
      const s = await alice.status()
      return s.versionVector[mallory.id] === OPS + 1 ? s : undefined
    }, 'alice to take every op once seq 1 comes', 60_000)
    assert.equal(status.keys, OPS + 1)
    assert.equal(status.replication.waitingBytes, 0, 'nothing left waiting')
    const last = await alice.ctl(['get', `big:${OPS + 1}`])
    assert.equal(last.code, 0, last.stderr)
    assert.equal(last.stdout.trim().length, VALUE_BYTES)
    // and she still writes and answers
    assert.equal((await alice.ctl(['put', 'after', 'ok'])).code, 0)
  })
})
