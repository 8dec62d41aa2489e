/**
 * An honest simulated node: the real replica over a real SQLite store (see
 * disk.ts), run as murmurd runs it — writes acknowledged only after an fsync,
 * own ops published and served only once on disk, release/attest every
 * second, collection on its interval, anti-entropy at murmurd's pace, a pull
 * on every new connection and soon after a gap, a write of what a snapshot
 * says to write again, and a start that fails on a full disk as murmurd's
 * does (it exits; its supervisor starts it again).
 */
import { PullQueue, PullSession, Replica, SqliteStore, claimOf, decodeOps, serve, type Change, type Frame, type Op, type PullResult, type PullStep, type Received } from '@murmur/core'
import { SimAntiEntropy } from './anti-entropy.js'
import { SimDisk } from './disk.js'
import { SimOutbound } from './outbound.js'
import { SIM_HISTORY } from './history-check.js'
import { FRAME_BYTES, GROUP, isDiskFull, type Network, type Puller, type Verdict } from './network.js'
import { describeOp, type Recorder } from './record.js'
import type { Rng } from './rng.js'
import type { Scenario } from './scenario.js'
import type { Scheduler, Timer } from './scheduler.js'
import type { SimKeys } from './keys.js'

export interface NodeDeps {
  /** Where the nodes' database files go (removed with the run). */
  dir: string
  sched: Scheduler
  rng: Rng
  net: Network
  keys: SimKeys
  record: Recorder
  scenario: Scenario
}

const FSYNC_MS: [number, number] = [1, 8]
/** Virtual time 0 on every node's wall clock (2023-11-14), so clocks that run behind stay positive. */
export const EPOCH = 1_700_000_000_000

export class SimNode implements Puller {
  readonly id: string
  up = false
  incarnation = 0
  clockOffset: number
  replica!: Replica
  readonly disk: SimDisk
  private store!: SqliteStore
  private readonly deps: NodeDeps
  private timers: Timer[] = []
  private pulls!: PullQueue
  private queue: Array<{ change: Change, client: boolean }> = []
  private flushing?: Timer
  private lazySync?: Timer
  private outbound!: SimOutbound
  private readonly antiEntropy: SimAntiEntropy
  /** Who runs this node's pulls: itself, or a hostile node wrapped around it. */
  puller: Puller = this
  /** It took a snapshot, or a row was changed behind its back: its history lacks versions the group wrote. */
  historyIncomplete = false
  /** Writes no more attestations (the run is about to be checked). */
  private silent = false

  constructor (id: string, deps: NodeDeps) {
    this.id = id
    this.deps = deps
    this.clockOffset = deps.scenario.clocks[id] ?? 0
    this.disk = new SimDisk(deps.dir, id, () => deps.sched.now)
    this.antiEntropy = new SimAntiEntropy({ ...deps, intervalMs: deps.scenario.config.antiEntropyMs, peers: () => deps.net.peersOf(id), pull: peer => { this.pulls.request(peer) }, vector: () => this.replica.vector(), due: () => this.replica.rechecksDue(), visit: peer => { deps.net.visit(id, peer) }, claimPulls: deps.scenario.claimPulls === true })
  }

  /** This node's wall clock: virtual time from a fixed epoch, plus its offset. */
  readonly now = (): number => EPOCH + this.deps.sched.now + this.clockOffset

  /** Starts the node; false when its disk is full (opening writes to the store): it stays down, as murmurd exits. */
  start (): boolean {
    const { scenario, keys, sched } = this.deps
    const store = this.disk.open()
    this.store = store
    const members = scenario.closed ? [...scenario.nodes, ...(scenario.hostile !== undefined ? [scenario.hostile] : [])] : undefined
    const replica = this.guard(() => new Replica({
      store,
      nodeId: this.id,
      now: this.now,
      sign: keys.signer(this.id),
      signLater: scenario.signLater?.includes(this.id) === true, leavesAtOnce: () => this.outbound.idle,
      verify: keys.verify,
      ...(members !== undefined ? { members } : {}),
      maxClockSkewMs: scenario.config.maxSkewMs,
      tombstoneGraceMs: scenario.config.graceMs,
      retentionMs: scenario.config.retentionMs,
      attestIntervalMs: scenario.config.attestIntervalMs,
      pendingBytes: scenario.config.pendingBytes,
      ...SIM_HISTORY
    }))
    // as murmurd opens: own ops a crash left unsigned (never sent) are signed, and on disk, before anything is served
    const signed = replica === undefined ? undefined : this.guard(() => replica.prove())
    if (replica === undefined || signed === undefined) {
      this.disk.crash(store)
      return false
    }
    if (signed.length > 0) { this.disk.synced(this.disk.mark()); this.deps.record.counts.signedAtStart += signed.length }
    replica.markDurable(replica.vector()[this.id] ?? 0)
    this.replica = replica
    this.outbound = new SimOutbound({ replica: () => this.replica, disk: this.disk, later: (ms, fn) => this.later(ms, fn), cancel: timer => { sched.cancel(timer) }, int: (a, b) => this.deps.rng.int(a, b),
      fsyncMs: FSYNC_MS, now: () => sched.now, publish: bytes => { this.deps.net.publish(this.id, bytes) }, record: this.deps.record, id: this.id }, replica.state.signLater)
    this.up = true
    this.incarnation++
    this.pulls = new PullQueue({ now: () => sched.now, start: (peer, finished, ending) => { this.deps.net.pull(this.puller, peer, finished, ending) } })
    this.every(1_000, () => { this.second() })
    this.every(Math.min(60_000, Math.max(1_000, Math.min(scenario.config.antiEntropyMs, scenario.config.graceMs / 2))), () => { this.collect() })
    this.antiEntropy.start()
    this.deps.net.forget(this.id)
    this.deps.net.changed()
    return true
  }

  /** Stops at once, like kill -9 or a power cut: whatever the last fsync did not cover is gone. */
  crash (): void {
    if (!this.up) return
    this.up = false
    for (const timer of [...this.timers, this.flushing, this.lazySync]) this.deps.sched.cancel(timer)
    this.timers = []
    this.antiEntropy.stop()
    this.flushing = undefined
    this.lazySync = undefined
    this.queue = []
    this.outbound.stop()
    this.disk.crash(this.store)
    this.deps.net.changed()
  }

  /** Closes the store for good (the run is over). */
  close (): void { if (this.up) this.crash() }

  /** A client's request (a put, a delete, or many): one commit, each change acknowledged (recorded) once it is on disk. */
  write (changes: Array<{ key: string, value: string | null, ttlMs?: number, refresh?: true }>): void {
    if (!this.up) return
    this.antiEntropy.stir()
    this.enqueue(changes.map(({ key, value, ttlMs, refresh }) => ({ key, value: value === null ? null : Buffer.from(value), ...(ttlMs !== undefined ? { ttlMs } : {}), ...(refresh === true ? { refresh } : {}) })), true)
  }

  gossip (bytes: Uint8Array, from: string): Verdict {
    if (!this.up) return 'ignore'
    let ops: Op[]
    try {
      ops = decodeOps(bytes, { maxValueBytes: 1024 * 1024 })
    } catch {
      return 'reject'
    }
    if (ops.length === 0 || ops.some(op => this.replica.check(op) != null)) {
      this.deps.record.counts.refused += ops.length
      return 'reject'
    }
    const received = this.guard(() => this.replica.receive(ops, { via: 'gossip' }))
    if (received !== undefined) {
      this.took(received)
      if (received.gap) this.antiEntropy.gap(from)
      else if (received.applied > 0) this.antiEntropy.stir()
    }
    return 'accept'
  }

  serve (hello: Frame, puller: string): Iterator<Frame> {
    if (hello.kind !== 'control' || hello.message.t !== 'hello') return [][Symbol.iterator]()
    if (hello.message.group === GROUP) this.antiEntropy.claimed(claimOf(hello.message), puller)
    return serve(this.replica, hello.message, { group: GROUP, name: this.id, pageOps: 64, frameBytes: FRAME_BYTES, pageBytes: Infinity }) // pages by count alone, as when the regression seeds were found (they miss their holes otherwise)
  }

  frameDelay (): number { return 0 }
  connected (peer: string): void {
    if (!this.up) return
    this.replica.reconnected(peer) // as murmurd: the pull a connection brings sends the whole hello
    this.antiEntropy.stir()
    this.pulls.request(peer)
  }

  session (server: string): PullSession {
    return new PullSession(this.replica, { group: GROUP, name: this.id, peer: server, summary: [this.id, server].every(id => this.deps.scenario.shortHellos?.includes(id)), declines: [this.id, server].every(id => this.deps.scenario.declines?.includes(id)) })
  }

  progress (server: string, bytes?: number): void { this.pulls.progress(server, bytes) }

  pulled (step: PullStep, _server: string, snapshot: boolean): void {
    // marked as the snapshot is taken: it may be on disk before a crash or a cut link ends the pull without a result
    if (snapshot) this.historyIncomplete = true
    this.took(step, step.changed.length > 0 || step.removed.length > 0)
  }

  pullEnded (result: PullResult, server: string): void {
    this.antiEntropy.ended(result, server)
    if (result.snapshot) this.deps.record.counts.snapshots++
    if (result.overtaken === true) this.deps.record.counts.snapshotsOvertaken++
    if (result.rechecked > 0 && result.aborted === undefined) this.deps.record.counts.rechecks++
    if (result.stale === true) this.deps.record.counts.staleEnds++
    this.writeAgain(`after a pull from ${server}`)
  }

  /** Writes again what snapshots and ops older than a collected delete named, as murmurd does (honest nodes' count). */
  private writeAgain (why: string): void {
    const again = this.replica.rewrites()
    if (again.length === 0) return
    if (this.deps.scenario.nodes.includes(this.id)) this.deps.record.reissue(again, again.map(c => this.replica.store.row(c.key)), this.deps.scenario.nodes)
    this.deps.record.log(`${this.id} writes again ${again.slice(0, 8).map(c => c.key).join(' ')}${again.length > 8 ? ` and ${again.length - 8} more` : ''} ${why}`)
    this.enqueue(again, false)
  }

  quiet (): void { this.silent = true }

  /** Writes changes of its own making (an attestation, a write again), not a client's. */
  writeOwn (changes: Change[]): void { if (this.up) this.enqueue(changes, false) }

  private second (): void {
    const released = this.guard(() => this.replica.release())
    if (released !== undefined) this.took(released)
    this.writeAgain('after ops that waited')
    const attestation = this.silent ? undefined : this.replica.attestation()
    if (attestation !== undefined) this.enqueue([attestation], false)
    this.pulls.tick()
    this.deps.record.counts.maxWaitingBytes = Math.max(this.deps.record.counts.maxWaitingBytes, this.replica.status().waitingBytes)
  }

  private collect (): void { this.deps.record.counts.tombstonesCollected += this.guard(() => this.replica.collect())?.tombstones ?? 0 }

  /** Ops taken from a peer (or released) exist once an fsync covers them (before, a crash loses them: hostile seed 24013); an honest origin's two ops of one seq fail the run (it reused a seq its peers had seen). */
  private took (received: Pick<Received, 'changed' | 'refused' | 'applied' | 'equivocations'>, wrote = false): void {
    const mark = this.disk.mark()
    for (const op of received.changed) this.disk.onDurable(mark, () => { this.deps.record.exists(op) }, () => { this.deps.record.lostBeforeFsync(op) })
    this.deps.record.refusals(received.refused)
    this.deps.record.counts.equivocations += received.equivocations.length
    for (const { origin, seq } of received.equivocations) {
      if (this.deps.scenario.nodes.includes(origin)) this.deps.record.fail(`${this.id} holds two ops of honest ${origin} with seq ${seq}`)
    }
    if (received.applied > 0 || wrote) this.syncLazily()
  }

  /** Runs a receive (or a collection, a start); a failed commit (a full disk) counts nothing, and a later sync brings it all again. */
  private guard<T> (fn: () => T): T | undefined {
    try {
      return fn()
    } catch (err) {
      if (isDiskFull(err)) return undefined
      throw err
    }
  }

  /** Group commit: what is queued commits together, then an fsync; acknowledged and published only after it. */
  private enqueue (changes: Change[], client: boolean): void {
    for (const change of changes) this.queue.push({ change, client })
    this.flushing ??= this.deps.sched.after(this.deps.rng.int(0, 2), () => {
      this.flushing = undefined
      this.commit()
    })
  }

  private commit (): void {
    const batch = this.queue
    this.queue = []
    if (!this.up || batch.length === 0) return
    const { record, sched, rng } = this.deps
    let ops: Op[]
    try {
      ops = this.replica.write(batch.map(b => b.change))
    } catch (err) {
      if (!isDiskFull(err)) throw err
      record.counts.writesFailed += batch.filter(b => b.client).length
      record.log(`${this.id} write refused: disk full`)
      return
    }
    const covered = this.disk.begin()
    const life = this.incarnation
    sched.after(rng.int(...FSYNC_MS), () => {
      if (!this.up || this.incarnation !== life) return // a crash came first: none of it is on disk, none acknowledged
      this.disk.synced(covered)
      ops.forEach((op, i) => {
        // the hostile member's own exist once an honest node takes them (`took`): it may withhold them (hostile seed 9003)
        if (this.puller.hostile !== true) record.exists(op)
        if (batch[i]?.client === true) {
          record.acked.push({ node: this.id, key: op.key, value: op.value === null ? null : Buffer.from(op.value).toString(), version: { wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq }, ...(op.refresh === true ? { refresh: true as const } : {}) })
          if (op.refresh === true) record.counts.refreshes++
          record.log(`${this.id} acked ${describeOp(op)}`)
        }
      })
      this.outbound.push(ops)
    })
  }

  /** Remote ops were committed: an fsync soon covers them (nobody waits for it). */
  private syncLazily (): void {
    this.lazySync ??= this.later(this.deps.rng.int(5, 30), () => {
      this.lazySync = undefined
      const covered = this.disk.begin()
      this.later(this.deps.rng.int(...FSYNC_MS), () => { this.disk.synced(covered) })
    })
  }

  private every (ms: number, fn: () => void): void { this.deps.sched.every(this.timers, () => ms, fn) }

  /** Runs `fn` after `ms` unless the node went down (or restarted) meanwhile. */
  private later (ms: number, fn: () => void): Timer {
    const life = this.incarnation
    return this.deps.sched.after(ms, () => { if (this.up && this.incarnation === life) fn() })
  }
}
