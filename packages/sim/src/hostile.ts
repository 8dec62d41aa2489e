/**
 * A hostile member: it holds a key the group accepts and runs a replica of
 * its own (so it has real ops to replay and real syncs to serve), but it
 * lies. Every sync it serves trickles (one frame every 5–19 s, just inside
 * the idle timeout), and on cue it: claims vectors it does not have, replays
 * genuine ops after their deletes were collected, signs two ops with one seq
 * for different peers (or a second version of an old seq, shown once floors
 * pass it), floods far-future ops, forges other origins' ops,
 * backdates its own (each saying it had seen nothing, or everything, of its
 * key), attests to more than it holds, and sends ops of origins of its own
 * making that only wait. None of it may make
 * honest replicas disagree, lose an acknowledged write, or run out of memory.
 */
import { attestationKey, decodeOps, encodeAttestation, encodeOps, proveOps, type Frame, type Mark, type Op, type PullResult, type PullSession, type PullStep } from '@murmur/core'
import { SimNode, type NodeDeps } from './node.js'
import { describeOp } from './record.js'
import type { Puller, Verdict } from './network.js'
import type { HostileAct } from './scenario.js'

const MAX = Number.MAX_SAFE_INTEGER

export class HostileNode implements Puller {
  readonly hostile = true
  readonly id: string
  private readonly inner: SimNode
  private readonly deps: NodeDeps
  private readonly captured: Op[] = []
  private lies = 0
  private sybilsMade = 0
  private replaying: Op[] = []

  constructor (id: string, deps: NodeDeps) {
    this.id = id
    this.deps = deps
    this.inner = new SimNode(id, deps)
    this.inner.puller = this
  }

  get up (): boolean {
    return this.inner.up
  }

  get incarnation (): number {
    return this.inner.incarnation
  }

  start (): void {
    this.inner.start()
  }

  crash (): void {
    this.inner.crash()
  }

  close (): void {
    this.inner.close()
  }

  quiet (): void {
    this.inner.quiet()
  }

  write (changes: Array<{ key: string, value: string | null }>): void {
    this.inner.write(changes)
  }

  gossip (bytes: Uint8Array, from: string): Verdict {
    try {
      this.capture(decodeOps(bytes))
    } catch {}
    return this.inner.gossip(bytes, from)
  }

  serve (hello: Frame, puller: string): Iterator<Frame> {
    if (this.lies > 0) {
      this.lies--
      const vector = Object.fromEntries([...this.deps.scenario.nodes, this.id].map(id => [id, MAX]))
      // a snapshot of nothing, behind one attestation, its own and validly signed, that claims every origin; each
      // frame sent twice, as if busy (a frame sent again brings nothing, and keeps no pull ahead of the next)
      const attest: Frame = { kind: 'attest', ops: [this.attestation(MAX)] }
      const rows: Frame = { kind: 'import', ops: this.replaying.slice(0, 20) }
      return ([
        { kind: 'control', message: { t: 'hello', group: 'sim', name: this.id, now: this.inner.now(), vector, snapshot: true, horizon: [MAX, 0], floors: Object.fromEntries(Object.keys(vector).map(id => [id, [MAX, 0, 0, Buffer.alloc(32).toString('base64')]])) } },
        attest, attest, rows, rows,
        { kind: 'control', message: { t: 'done' } }
      ] as Frame[])[Symbol.iterator]()
    }
    const honest = this.inner.serve(hello, puller)
    const replays = this.replaying.splice(0, 20)
    // a replay rides along with whatever it serves
    return (function * () {
      for (let next = honest.next(); next.done !== true; next = honest.next()) {
        if (next.value.kind === 'control' && next.value.message.t === 'done' && replays.length > 0) yield { kind: 'ops', ops: replays } as Frame
        yield next.value
      }
    })()
  }

  frameDelay (): number {
    return this.deps.rng.int(5_000, 19_000)
  }

  connected (peer: string): void {
    this.inner.connected(peer)
  }

  session (server: string): PullSession {
    const session = this.inner.session(server)
    const hello = session.hello.bind(session)
    if (this.lies > 0) {
      // a lie told once: a member that never takes in what others hold only holds collection back (see the README)
      this.lies--
      session.hello = () => {
        const frame = hello()
        if (frame.kind === 'control' && frame.message.t === 'hello') {
          frame.message.vector = Object.fromEntries(Object.keys(this.inner.replica.vector()).map(o => [o, MAX]))
          delete frame.message.summary
        }
        return frame
      }
    }
    return session
  }

  pulled (step: PullStep, server: string, snapshot: boolean): void {
    this.capture(step.received)
    this.inner.pulled(step, server, snapshot)
  }

  pullEnded (result: PullResult, server: string): void {
    this.inner.pullEnded(result, server)
  }

  progress (server: string, bytes?: number): void {
    this.inner.progress(server, bytes)
  }

  act (act: HostileAct): void {
    if (!this.up) return
    this.deps.record.counts.hostileActs++
    this.deps.record.log(`${this.id} ${act}`)
    const { rng, net } = this.deps
    const peers = net.peersOf(this.id)
    const now = this.inner.now()
    const held = this.inner.replica.origin(this.id)?.held ?? { seq: 0, wall: 0, logical: 0 }
    const sign = this.deps.keys.signer(this.id)
    // stamped after its own last op, as an honest clock would (but for the backdated one)
    const stamp = now > held.wall ? { wall: now, logical: 0 } : { wall: held.wall, logical: held.logical + 1 }
    // what it says it had seen is a lie too, in turn: that it saw nothing, or everything (history must still agree)
    const seen = held.seq % 2 === 0 ? { wall: 0, logical: 0, origin: this.id } : { wall: MAX, logical: 0, origin: 'zz-saw-all' }
    const lyingRefresh: Partial<Op> = seen.origin === this.id ? { expires: now + 60_000, refresh: true } : {}
    const ops = (entries: Array<Partial<Op> & { key: string }>): Op[] => entries.map(e => ({ value: Buffer.from('x'), ...stamp, origin: this.id, seq: held.seq + 1, seen, ...e }))
    switch (act) {
      case 'lie-vector':
        this.lies += 3
        for (const peer of peers) this.inner.connected(peer)
        return
      case 'replay': {
        this.replaying = rng.shuffle(this.captured).slice(0, 40)
        if (this.replaying.length > 0) net.publish(this.id, encodeOps(this.replaying.slice(0, 20)))
        return
      }
      case 'equivocate': {
        // the second a keepalive refresh over a value it never wrote, when its seen names itself (a lie the bit allows)
        const [a, b] = ops([{ key: rng.pick(['k0', 'k1', 'k2']), value: Buffer.from('eq-a') }, { key: rng.pick(['k3', 'k4', 'k5']), value: Buffer.from('eq-b'), ...lyingRefresh }]) as [Op, Op]
        proveOps([a], sign)
        proveOps([b], sign)
        const own = this.inner.replica.receive([a])
        this.deps.record.log(`${this.id} signs ${describeOp(a)} and ${describeOp(b)} (applied here: ${own.applied}${own.refused.map(r => `, refused: ${r.reason}`).join('')})`)
        const half = rng.shuffle(peers)
        const cut = Math.ceil(half.length / 2)
        // each half gets its own version. (A second version held back until every member has collected past
        // its seq is not resolved: see "What a hostile member can do" in the README.)
        net.publish(this.id, encodeOps([a]), half.slice(0, cut))
        net.publish(this.id, encodeOps([b]), half.slice(cut))
        return
      }
      case 'equivocate-late': {
        // a second version of a seq of its own written a while ago, near its floor here (where the others' floors are,
        // give or take their lag): a node whose floor passed that seq cannot tell it from a replay and never takes it;
        // one whose floor has not, takes it. Stamped now, it wins its key wherever it is taken.
        const own = this.inner.replica.origin(this.id)
        if (own === undefined || own.held.seq === 0) return
        const seq = Math.max(1, Math.min(own.held.seq, own.floor.seq + rng.int(-2, 1)))
        const [late] = ops([{ key: rng.pick(['k0', 'k1', 'k2', 'k3', 'k4', 'k5']), value: Buffer.from(`eq-late${seq}`), seq }]) as [Op]
        proveOps([late], sign)
        this.deps.record.log(`${this.id} signs ${describeOp(late)} (floor here ${own.floor.seq}, held ${own.held.seq})`)
        net.publish(this.id, encodeOps([late]), rng.shuffle(peers).slice(0, Math.ceil(peers.length / 2)))
        return
      }
      case 'flood-future': {
        // half held (past the skew bound, within the hour an op may wait: until 30 s after it), half refused (2 h
        // ahead). Held, they can be second versions of seqs its own writes reach later: the nodes that got them hold
        // back its later ops, and with them collection, until their clocks reach them (hostile seed 6612, with 30 min
        // there: longer than a run settles). The README's Security section says so.
        const ahead = this.deps.scenario.config.maxSkewMs + 30_000
        const flood = ops(Array.from({ length: 60 }, (_, i) => ({ key: `flood${i}`, value: Buffer.alloc(400, 1), seq: held.seq + 100 + i, wall: now + (i % 2 === 0 ? ahead : 7_200_000) + i })))
        proveOps(flood, sign)
        net.publish(this.id, encodeOps(flood))
        return
      }
      case 'forge': {
        const victim = rng.pick(this.deps.scenario.nodes)
        const forged = ops([{ key: 'k0', value: Buffer.from('forged'), origin: victim, seq: 1_000 + rng.int(0, 999) }])
        proveOps(forged, sign)
        net.publish(this.id, encodeOps(forged))
        return
      }
      case 'backdate': {
        const old = ops([{ key: rng.pick(['k0', 'k1', 'k2']), value: Buffer.from('backdated'), wall: Math.max(0, held.wall - 10_000), ...lyingRefresh }])
        proveOps(old, sign)
        net.publish(this.id, encodeOps(old))
        return
      }
      case 'lie-attest':
        this.inner.writeOwn([{ key: attestationKey(this.id), value: encodeAttestation(this.marks(100)) }])
        return
      case 'sybils': {
        // each signed with a key it made (an open group takes any): seq 2 of each, so each waits for a seq 1 that never
        // comes, a quarter also past the skew bound; 400 bytes each, so a 16 KiB budget evicts as they come
        const sybils = Array.from({ length: rng.int(20, 80) }, (_, i) => {
          const origin = `${this.id}s${this.sybilsMade++}`
          const op: Op = { key: `sybil${i}`, value: Buffer.alloc(400, 2), ...stamp, origin, seq: 2, ...(i % 4 === 0 ? { wall: now + this.deps.scenario.config.maxSkewMs + rng.int(1, 60) * 1_000 } : {}) }
          proveOps([op], this.deps.keys.signer(origin))
          return op
        })
        net.publish(this.id, encodeOps(sybils))
      }
    }
  }

  /**
   * Marks `ahead` past what it holds of every honest origin (up to 2^53 − 1),
   * as a lying attestation would claim; its own, true (an attestation that
   * holds its own member past its own seq is refused outright), or, every
   * third seq of its own, left out: it unsays what it attested of its own ops
   * before, which a node that jumped them on its word must get past
   * (hostile-claims.spec on real daemons).
   */
  private marks (ahead: number): Map<string, Mark> {
    const marks = new Map<string, Mark>()
    for (const origin of [...this.deps.scenario.nodes, this.id]) {
      const mark = this.inner.replica.origin(origin)?.held ?? { seq: 0, wall: 0, logical: 0, acc: new Uint8Array(32) }
      if (origin !== this.id) marks.set(origin, { ...mark, seq: Math.min(MAX, mark.seq + ahead) })
      else if (mark.seq > 0 && mark.seq % 3 !== 0) marks.set(origin, mark)
    }
    return marks
  }

  /** A lying attestation, signed, with the next seq of its own (sent, never applied here: a second version of that seq). */
  private attestation (ahead: number): Op {
    const held = this.inner.replica.origin(this.id)?.held ?? { seq: 0, wall: 0, logical: 0 }
    const now = this.inner.now()
    const [op] = [{ key: attestationKey(this.id), value: encodeAttestation(this.marks(ahead)), wall: Math.max(now, held.wall + 1), logical: 0, origin: this.id, seq: held.seq + 1 }]
    proveOps([op as Op], this.deps.keys.signer(this.id))
    return op as Op
  }

  private capture (ops: Op[]): void {
    for (const op of ops) {
      if (this.captured.length >= 500) this.captured.splice(0, 100)
      this.captured.push(op)
    }
  }
}
