/**
 * A hostile member cannot fill a real murmurd's memory (README, Security:
 * what a member cannot do). Ops that arrive past a gap in their writer's
 * sequence wait for the missing one, within a byte budget (64 MiB); a member
 * that serves far more than that past a seq it never sends gets the rest
 * refused, and none of it counted as held. Once the gap is filled the node
 * pulls the refused ops again and ends holding every one.
 *
 * Witnesses (the ops a pull's superseded ops lost to) are kept for the whole
 * pull; a member that answers with hundreds of MiB of them, and holds the
 * stream open, leaves the puller none of their values to hold.
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
/** 300 witnesses of 900 KiB, one a frame: 264 MiB that the pull kept whole, values and all, until it ended. */
const WITNESSES = 300
const WITNESS_BYTES = 900 * 1024

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

describe('a member that answers a pull with witnesses and holds the stream open', () => {
  const cluster = new TestCluster()
  let attacker: Attacker | undefined
  after(async () => {
    await attacker?.stop()
    await cluster.close()
  })

  it('leaves the puller none of their values to hold while the pull lasts', async () => {
    const alice = await cluster.start('alice', { args: ['--anti-entropy-interval', '300', '--anti-entropy-max-interval', '300'] })
    attacker = await Attacker.start()
    const mallory = attacker
    const value = Buffer.alloc(WITNESS_BYTES, 'w')
    // its seq 1 comes after them, in an ops frame: once alice holds it, she has taken every witness before it
    const marker = mallory.op('marker', 'after the witnesses', { seq: 1 })
    const witnesses = Array.from({ length: WITNESSES }, (_, i) => mallory.sign([{ ...mallory.op(`w:${i}`, 'x', { seq: i + 2 }, false), value }])[0] as Op)
    let release = (): void => {}
    const held = new Promise<void>(resolve => { release = resolve })
    let served = false
    mallory.answer = async function * (_puller, hello) {
      yield mallory.hello(hello)
      if (!served) {
        served = true
        for (const op of witnesses) yield { kind: 'witness', ops: [op] }
        yield { kind: 'ops', ops: [marker] }
        await held
      }
      yield done
    }
    const pid = alice.process?.pid as number
    const rssBefore = rssBytes(pid)
    try {
      await mallory.dial(await alice.addr())
      await mallory.pull(await alice.addr()) // its hello shows it a member: alice's anti-entropy pulls from it
      await waitFor(async () => (await alice.status()).versionVector[mallory.id] === 1, 'alice to take every witness and then mallory\'s seq 1', 60_000)
      // the pull is still open (its stream idles out after 20 s): what alice holds now, she holds for it
      const grown = rssBytes(pid) - rssBefore
      console.log(`${(WITNESSES * WITNESS_BYTES / 2 ** 20).toFixed(0)} MiB of witnesses in one open pull; alice's RSS grew ${(grown / 2 ** 20).toFixed(0)} MiB`)
      assert.ok(grown < WITNESSES * WITNESS_BYTES / 2, `alice's RSS grew ${grown} bytes while the pull held ${WITNESSES * WITNESS_BYTES} bytes of witnesses`)
    } finally {
      release()
    }
    assert.equal((await alice.ctl(['put', 'after', 'ok'])).code, 0)
  })
})
