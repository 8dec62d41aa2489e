/**
 * A simulated node's own ops on their way out, as murmurd sends them
 * (daemon outbound.ts and replication.ts): ops acknowledged within the
 * window of the last send wait for it to pass, and a node that signs later
 * (`Scenario.signLater`, core's `signLater`) signs them then, one batch for
 * the commits they came in (ops that go at once are signed in their commit);
 * they are published, and may be served, once an fsync covers the proof:
 * the next one anyone begins (a commit's) if one begins within `RIDE_MS`,
 * else one of their own. A crash drops what waits; the node signs it when it
 * starts again.
 */
import { chunkByBatch, encodeOps, type Op, type Replica } from '@murmur/core'
import { isDiskFull } from './network.js'
import type { SimDisk } from './disk.js'
import type { Recorder } from './record.js'
import type { Timer } from './scheduler.js'

/** The publish window: murmurd's `--publish-window 100` (20 times the default), so seeds' writes, mostly far apart, still gather. */
const WINDOW_MS = 100
/** How long new proofs wait for an fsync begun by another before one of their own: murmurd's `PROOF_RIDE_MS` (2 ms), scaled like the window, so that proofs ride often. */
const RIDE_MS = 20

export interface OutboundDeps {
  replica: () => Replica
  disk: SimDisk
  /** Runs `fn` after `ms` unless the node went down meanwhile. */
  later: (ms: number, fn: () => void) => Timer
  cancel: (timer: Timer | undefined) => void
  int: (min: number, max: number) => number
  fsyncMs: [number, number]
  /** Virtual time, ms. */
  now: () => number
  publish: (bytes: Uint8Array) => void
  /** The run's record (what was signed later is counted) and the node's name in it. */
  record: Recorder
  id: string
}

export class SimOutbound {
  private waiting: Op[] = []
  /** The commits whose ops wait. */
  private commits = 0
  private timer?: Timer
  private last = -Infinity
  /** How far the WAL reached after the latest transaction that stored proofs. */
  private proofs = 0

  constructor (private readonly deps: OutboundDeps, private readonly signLater: boolean) {}

  /** Ops released now would go out at once (nothing waits, none sent within the window), so they are signed in their commit. */
  get idle (): boolean {
    return this.timer === undefined && this.waiting.length === 0 && this.deps.now() - this.last >= WINDOW_MS
  }

  /** Own ops on disk (acknowledged), in seq order (or not: their fsyncs may end out of order). */
  push (ops: Op[]): void {
    if (!this.signLater) {
      // signed at their commit: on disk, proof and all, and out at once
      const last = ops.at(-1)
      if (last !== undefined) this.deps.replica().markDurable(last.seq)
      this.send(ops)
      return
    }
    const alone = this.idle
    this.waiting.push(...ops)
    this.commits++
    if (alone) this.flush()
    else this.timer ??= this.deps.later(Math.max(0, this.last + WINDOW_MS - this.deps.now()) + this.deps.int(0, 5), () => { this.flush() })
  }

  /** The node went down: what waits is dropped (signed when it starts again). */
  stop (): void {
    this.deps.cancel(this.timer)
    this.timer = undefined
    this.waiting = []
    this.commits = 0
  }

  private flush (): void {
    this.deps.cancel(this.timer)
    this.timer = undefined
    this.last = this.deps.now()
    const ops = this.waiting
    const commits = this.commits
    this.waiting = []
    this.commits = 0
    if (ops.length === 0) return
    try {
      const signed = this.deps.replica().prove(ops).length
      this.deps.record.counts.signedLater += signed
      if (commits > 1) this.deps.record.counts.sharedProofs++
      if (signed > 0) this.proofs = this.deps.disk.mark()
    } catch (err) {
      if (!isDiskFull(err)) throw err
      this.deps.record.log(`${this.deps.id}: proofs of ${ops.length} own ops not stored (disk full); they are signed with the next`)
      return
    }
    const top = ops.reduce((max, op) => Math.max(max, op.seq), 0)
    const go = (): void => {
      this.deps.replica().markDurable(top)
      this.send(ops)
    }
    // as murmurd: ops signed in their commit went to disk with it; proofs need an fsync begun after them, another's if one begins soon
    const { disk, record } = this.deps
    const written = this.proofs
    if (disk.covered(written).durable) {
      go()
      return
    }
    disk.onDurable(written, go)
    this.deps.later(RIDE_MS, () => {
      const { durable, coming } = disk.covered(written)
      if (durable || coming) {
        record.counts.rodeProofs++
        return
      }
      const mark = disk.begin()
      this.deps.later(this.deps.int(...this.deps.fsyncMs), () => { disk.synced(mark) })
    })
  }

  private send (ops: Op[]): void {
    for (const chunk of chunkByBatch(ops, 16 * 1024)) this.deps.publish(encodeOps(chunk))
  }
}
