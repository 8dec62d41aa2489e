/**
 * The pulling side of a sync: a state machine the network feeds frames to.
 * It asks for what this node lacks (its vector; runs it holds waiting; for
 * an origin whose attestation disagreed with this node, everything above the
 * floor again, without lowering its vector: a server whose floor is higher
 * must not take it for behind and send a whole snapshot) and takes only ops
 * it can check. Nothing the server says about itself becomes this node's
 * state: its vector only shows whether it is behind this node (then this
 * node asks nothing of it: it must catch up from us first, unless each is
 * behind the other), and its horizon only which of our unseen writes to make
 * again.
 *
 * `STALE_OPS` ops in a row that this node holds already, or that it
 * refused as forged or had no room to keep waiting (none of an origin
 * asked again on purpose), or `STALE_MS` of frames that bring nothing new
 * (snapshot frames too), end the pull (see `staleness.ts`): the server
 * streams from the vector this node had at the hello, and gossip brought
 * those ops meanwhile. Ending early skips nothing: the next pull asks from
 * what is held then.
 *
 * A snapshot this node declines ends the pull at its first row, and the next
 * from that server asks for none (`Hello.rows`, 3.2.0; see `declines.ts`).
 */
import { noteInStep, pullerHello, recheckedOnce, rechecksOf, sameHeld, type Mismatch } from './hello.js'
import { isBehind } from './serve.js'
import { lacks } from './anti-entropy-pace.js'
import { Staleness } from './staleness.js'
import { Witnesses } from './witnesses.js'
import { ATTESTATION_BUDGET, SnapshotAttestations } from './attestations.js'
import { asksRows, noteDeclined, wantsRows } from './declines.js'
import { SyncProtocolError, SyncRejectedError, type Frame, type Hello } from './messages.js'
import { attestedFloors, jumpMarks, pruneFloors, settle, stageRows, unattestedMarks } from '../replica/snapshot.js'
import { ownMark, snapshotReason, type SnapshotReason } from '../replica/snapshot-gate.js'
import type { Refusal } from '../replica/checker.js'
import type { Replica } from '../replica/replica.js'
import type { Mark, Op, VersionVector } from '../types.js'
import type { PullResult, PullStep } from './pull-result.js'

export { STALE_MS, STALE_OPS } from './staleness.js'
export type { PullResult, PullStep } from './pull-result.js'

export interface PullInit {
  group: string
  name: string
  /** The server's peer ID (its member ID): an attestation of it that disagreed with us is rechecked. */
  peer?: string
  /** The server speaks the hello's short form (`hello.ts`). */
  summary?: boolean
  /** Frames that bring nothing new end the pull once they have come for this long. @default `STALE_MS` (30 s) */
  staleMs?: number
  /**
   * The server speaks 3.2.0 (`Hello.rows`): a pull that declines its
   * snapshot ends before the rows, and the next from it asks for none.
   * Without, a declined snapshot's rows all come, each checked, for nothing:
   * a server whose floors this node does not take (unvouched, or not yet
   * stuck past them) sent the whole store on every pull.
   */
  declines?: boolean
}

type Stage = 'hello' | 'attest' | 'import' | 'ops' | 'done'

export class PullSession {
  private readonly replica: Replica
  private readonly init: PullInit
  private stage: Stage = 'hello'
  private readonly attestations = new SnapshotAttestations()
  private floors = new Map<string, Mark>()
  private prune = new Map<string, number>()
  /** Why this node takes the snapshot (see `snapshotReason`). */
  private reason: SnapshotReason = 'joining'
  private readonly present = new Set<string>()
  private readonly witnesses = new Witnesses()
  /** Origins this pull asks for again from the floor (an attestation disagreed): ops held already are what it wants to see. */
  private readonly rechecks = new Set<string>()
  /** `member\norigin` → the attestation that disagreed, marked rechecked in the replica's state once the server says done. */
  private readonly rechecking = new Map<string, Mismatch>()
  /** How long this pull has brought nothing new. */
  private readonly staleness: Staleness
  private horizon: [number, number] = [0, 0]
  private claimedFloors: Record<string, [number, number, number, string]> = {}
  /** The vector the hello named, and its digest when the hello was the short form. */
  private sent: VersionVector = {}
  private summary: string | undefined
  /** The hello asked for a snapshot's rows (see `Hello.rows`). */
  private rows = true
  readonly result: PullResult = { snapshot: false, applied: 0, refused: 0, forged: 0, removed: 0, reissue: [], rechecked: 0 }

  constructor (replica: Replica, init: PullInit) {
    this.replica = replica
    this.init = init
    this.staleness = new Staleness(init.staleMs)
  }

  get done (): boolean {
    return this.stage === 'done'
  }

  /** The first frame to send: the whole hello, or its short form (see `hello.ts`). */
  hello (): Frame {
    const recheck = rechecksOf(this.replica.state, this.init.peer, this.rechecking)
    for (const origin of Object.keys(recheck)) this.rechecks.add(origin)
    this.result.rechecked = this.rechecks.size
    this.sent = this.replica.vector()
    this.rows = asksRows(this.replica.state, this.init.peer, this.init.declines === true)
    const hello = pullerHello(this.replica.state, { ...this.init, vector: this.sent, recheck, ...(this.rows ? {} : { rows: false as const }) })
    this.summary = hello.summary
    return { kind: 'control', message: hello }
  }

  /** Takes the next frame from the server. Throws `SyncProtocolError` when the server breaks the protocol. */
  take (frame: Frame): PullStep {
    const step: PullStep = { received: frame.kind === 'control' ? [] : frame.ops, changed: [], removed: [], refused: [], applied: 0, equivocations: [], conflicts: [], delivered: false, fresh: 0 }
    if (this.stage === 'hello') this.greet(frame)
    else if (frame.kind === 'attest' && this.stage === 'attest') step.fresh = this.attest(frame.ops, step.refused)
    else if (frame.kind === 'import' && (this.stage === 'attest' || this.stage === 'import')) {
      // each row is checked: a server that sends them when asked for none would have them all checked for nothing
      if (!this.rows) throw new SyncProtocolError('snapshot rows sent to a hello that asked for none (rows: false)')
      this.floorsFrom(step, true)
      const before = this.present.size
      if ((this.stage as Stage) !== 'done' && !this.lostStage()) stageRows(this.replica.state, frame.ops, this.floors, this.present, step.refused)
      step.fresh = this.present.size - before
    } else if ((frame.kind === 'witness' || frame.kind === 'ops') && this.stage !== 'done') {
      if (!this.settle(step)) return step
      if (frame.kind === 'witness') this.witness(frame.ops, step)
      else this.ops(frame.ops, step)
    } else if (frame.kind === 'control' && frame.message.t === 'done' && this.stage !== 'done') {
      this.settle(step)
      this.stage = 'done'
      // rechecked only once the server sent all it had: a pull cut short asks again
      // nor while a version of a seq it holds still waits here (the hello skips what waits, so the server did not send
      // it): counted as asked about, and every later attestation that disagreed alike with it, that version was never
      // asked for again once the wait lost it (seed 67093)
      const state = this.replica.state
      const waits = (origin: string): boolean => state.pending.seqsIn(origin, 0, state.origins.get(origin)?.held.seq ?? 0).length > 0
      for (const { member, origin, attestation, mark } of this.rechecking.values()) if (!waits(origin)) recheckedOnce(state, member, origin, attestation, mark)
      noteInStep(this.replica.state, this.init.peer, sameHeld(this.replica.vector(), this.result.peerVector ?? {}))
    } else {
      throw new SyncProtocolError(`unexpected ${frame.kind === 'control' ? frame.message.t : frame.kind} frame ${this.stage === 'done' ? 'after done' : `while expecting ${this.stage}`}`)
    }
    this.result.refused += step.refused.length
    this.result.forged += step.refused.filter(r => r.forged).length
    if (frame.kind === 'ops') step.fresh = step.applied
    step.delivered = frame.kind === 'control' || step.fresh > 0
    if (frame.kind === 'attest' || frame.kind === 'import') this.sentAgain(step.delivered)
    return step
  }

  /** Takes a snapshot's valid attestations; how many are new to this pull (a server may send one again, to look busy). Past their budget the pull ends. */
  private attest (ops: Op[], refused: Refusal[]): number {
    const fresh = this.attestations.add(ops, op => this.replica.check(op), refused)
    if (this.attestations.over) {
      this.result.aborted = `the server sent more than ${ATTESTATION_BUDGET / 2 ** 20} MiB of attestations for a snapshot`
      this.stage = 'done'
    }
    return fresh
  }

  /** A snapshot frame that brought nothing new (rows or attestations sent already): `STALE_MS` of them end the pull. */
  private sentAgain (delivered: boolean): void {
    if (!this.staleness.snapshot(delivered, this.replica.state.now())) return
    this.result.aborted = 'the server kept sending snapshot frames that brought nothing new'
    this.stage = 'done'
  }

  private greet (frame: Frame): void {
    if (frame.kind !== 'control') throw new SyncProtocolError(`expected hello, got ${frame.kind}`)
    const message = frame.message
    if (message.t === 'reject') throw new SyncRejectedError(`peer refused sync: ${message.reason}`)
    if (message.t !== 'hello') throw new SyncProtocolError(`expected hello, got ${message.t}`)
    if (message.group !== this.init.group) throw new SyncProtocolError('peer answered for another group')
    const hello: Hello = message
    // a short hello answered with the same digest: the server held what this node sent it
    const same = this.summary !== undefined && hello.summary === this.summary
    const vector = same ? this.sent : hello.vector
    noteInStep(this.replica.state, this.init.peer, false)
    this.result.again = this.summary !== undefined && !same && lacks(this.sent, vector)
    Object.assign(this.result, { peerName: hello.name, peerNow: hello.now, peerVector: vector, snapshot: hello.snapshot === true })
    if (hello.horizon != null) this.horizon = hello.horizon
    if (hello.floors != null) this.claimedFloors = hello.floors
    // a server that lacks ops collected here may hand over older ops as if they were live: ask it nothing, unless
    // this node is behind it too (two sides that each went on without the other past the retention): then one
    // snapshot each way is the only way they meet again
    if (isBehind(vector, this.replica.state.origins) && hello.snapshot !== true) {
      this.result.aborted = 'the peer lacks ops this node has collected; it must catch up from this node first'
      this.stage = 'done'
      return
    }
    this.stage = hello.snapshot === true ? 'attest' : 'ops'
  }

  /**
   * On the first frame after the attestations: the floors they give; rows
   * staged from here on are taken at `settle`. `rows`: that frame is a row
   * (a declined snapshot's rows, the rest of them too, are not read).
   */
  private floorsFrom (step: PullStep, rows = false): void {
    if (this.stage !== 'attest') return
    this.stage = 'import'
    const state = this.replica.state
    const valid = this.attestations.ops // each checked as it came (`attest`)
    const peer = this.init.peer
    const server = peer === undefined ? undefined : { id: peer, own: ownMark(valid, peer) }
    const attested = attestedFloors(state, valid, step.refused)
    const jump = jumpMarks(attested, this.claimedFloors, server)
    const reason = snapshotReason(state, jump, valid, unattestedMarks(this.claimedFloors, jump))
    if (!this.rows) {
      // asked for no rows: nothing to settle from, whatever the gate says now; it says only whether to ask for them
      this.result.snapshot = false
      if (reason !== undefined && peer !== undefined && wantsRows(state, peer)) this.result.wanted = true
      return
    }
    // not behind anything collected without it, as far as this node can tell: an ordinary pull
    this.result.snapshot = reason !== undefined
    if (reason === undefined) {
      if (this.init.declines !== true || peer === undefined) return
      noteDeclined(state, peer)
      if (!rows) return // the server sends no rows: the ops follow
      this.result.declined = true
      this.result.aborted = 'declined the snapshot the server offered (nothing this node may jump, or not behind it for long enough); asks again at once, without its rows'
      this.stage = 'done'
      return
    }
    this.floors = jump
    this.prune = pruneFloors(attested, this.claimedFloors, jump)
    this.reason = reason
    // the stage is this session's now; rows a snapshot cut short (or an older session still going) left go
    state.staging = this
    state.store.clearStaged()
  }

  /**
   * Whether a newer pull took the snapshot stage over (this one stalled, and
   * the next started beside it): then this one ends without settling, since
   * the staged rows are no longer its own.
   */
  private lostStage (): boolean {
    if (!this.result.snapshot || this.replica.state.staging === this) return false
    this.result.snapshot = false
    this.result.aborted = 'a newer pull took over the snapshot this one was receiving'
    this.result.overtaken = true
    this.stage = 'done'
    return true
  }

  /**
   * After the last snapshot row: the snapshot taken in one transaction (see
   * `settle` in snapshot.ts). False when this session ended instead.
   */
  private settle (step: PullStep): boolean {
    this.floorsFrom(step)
    if (this.stage !== 'import') return true
    this.stage = 'ops'
    if (!this.result.snapshot) return true
    if (this.lostStage()) return false
    const [wall, logical] = this.horizon
    const end = settle(this.replica.state, this.floors, this.prune, this.present, { wall, logical }, this.reason)
    this.replica.state.staging = undefined
    step.changed.push(...end.changed)
    step.removed.push(...end.removed)
    step.conflicts.push(...end.conflicts)
    this.result.removed += end.removed.length
    this.result.reissue.push(...end.reissue)
    return true
  }

  private witness (ops: Op[], step: PullStep): void {
    this.stage = 'ops'
    for (const op of ops) {
      const refusal = this.replica.check(op)
      if (refusal != null) step.refused.push(refusal)
      else this.witnesses.add(op)
    }
    // witnesses bring nothing by themselves (the ops that lost to them follow): a server that sends only them trickles
    this.endIfStale(this.staleness.ops(true, 0, this.replica.state.now()))
  }

  private ops (ops: Op[], step: PullStep): void {
    this.stage = 'ops'
    const received = this.replica.receive(ops, { via: 'sync', witnesses: this.witnesses.byKey })
    step.changed.push(...received.changed)
    step.refused.push(...received.refused)
    step.applied += received.applied
    step.equivocations.push(...received.equivocations)
    step.conflicts.push(...received.conflicts)
    this.result.applied += received.applied
    // a forgery, or an op checked and not kept (no room to wait: a server streams an origin's ops in order, so
    // an honest pull's ops apply), brings nothing either: a server that sends only such ops, each a signature
    // check, held the pull and this node's CPU for as long as it went on (a refusal by policy, e.g. an origin
    // off this node's allow-list, does not count: those ops may come before the ones this node lacks)
    const forged = received.refused.reduce((n, refusal) => n + (refusal.forged ? 1 : 0), 0)
    const brought = ops.length - received.duplicates - forged - received.unkept.length
    const stale = brought <= 0 && !ops.some(op => this.rechecks.has(op.origin))
    // a frame of no ops at all counts as one of ops held already: it brought nothing
    this.endIfStale(this.staleness.ops(stale, ops.length, this.replica.state.now()))
  }

  private endIfStale (stale: boolean): void {
    if (!stale) return
    this.result.aborted = 'the server was sending nothing this node lacks (ops it holds already: gossip brought them meanwhile; or forged, or with no room to wait); the next pull asks from what it holds now'
    this.result.stale = true
    this.stage = 'done'
  }
}
