/**
 * The simulator's random seeds in `npm test`: a bounded set passes; a seed
 * replays exactly; and the checks catch a replica that was broken on purpose
 * (so a passing run means something). The scenarios of the holes are in
 * sim.spec.ts.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { linksOf, run, scenario } from '../src/index.js'
import { Rng } from '../src/rng.js'
import { passes } from './passes.js'

/**
 * Seeds `npm test` runs: enough to cover every kind of fault (the first
 * snapshot comes at 62; 41-62 hold all nine the test counts), about 12 s on
 * one core. The rest are left to the hunts, which have run 1-49799: 6-62
 * took 39 s, and CI's whole suite came to 15 minutes.
 */
const FIRST_SEED = 41
const LAST_SEED = 62
const SEEDS = LAST_SEED - FIRST_SEED + 1

/** The nodes `links` (`linksOf`'s) join to `from`, never passing through `avoid`. */
function reached (links: Set<string>, from: string, avoid?: string): Set<string> {
  const seen = new Set([from])
  for (let grew = true; grew;) {
    grew = false
    for (const link of links) {
      const [a, b] = link.split('\n') as [string, string]
      if (a !== avoid && b !== avoid && seen.has(a) !== seen.has(b)) { seen.add(a); seen.add(b); grew = true }
    }
  }
  return seen
}

describe('simulation: random seeds', () => {
  it(`${SEEDS} seeds (${FIRST_SEED}-${LAST_SEED}) pass every check`, () => {
    const started = Date.now()
    const totals = { crashes: 0, partitions: 0, hostileActs: 0, dropped: 0, snapshots: 0, tombstonesCollected: 0, signedLater: 0, sharedProofs: 0, rodeProofs: 0 }
    for (let seed = FIRST_SEED; seed <= LAST_SEED; seed++) {
      const result = run(scenario(seed))
      passes(result)
      for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += result.counts[key]
    }
    for (const [key, value] of Object.entries(totals)) assert.ok(value > 0, `the seeds exercised ${key}`)
    console.log(`# ${SEEDS} seeds in ${Date.now() - started} ms: ${JSON.stringify(totals)}`)
  })

  it('seed 45698: a node that jumped past a collected delete by snapshot takes no older value of its key later', () => {
    // its horizon stayed at 0, so servers sent no witness, and a witness that came with an op that waited was gone when it applied
    passes(run(scenario(45698)))
  })

  it('links each node to the few it dials and those that dial it (--peer-links), in one graph (the honest nodes without the hostile one too), and still converges', () => {
    const ids = Array.from({ length: 12 }, (_, i) => `n${i}`)
    for (let seed = 1; seed <= 200; seed++) {
      const links = linksOf(ids, 2, new Rng(seed))
      const degree = (id: string): number => [...links].filter(link => link.split('\n').includes(id)).length
      assert.ok(ids.every(id => degree(id) >= 2), `every node has its two dials (seed ${seed})`)
      assert.ok(links.size < 30, `far from every pair (66): ${links.size}`)
      assert.equal(reached(links, 'n0').size, ids.length, `one graph (seed ${seed})`)
      // with a hostile member, the honest nodes still form one graph without it: it must not be their only bridge
      const withHostile = linksOf([...ids.slice(0, 4), 'm0'], 1, new Rng(seed), ids.slice(0, 4))
      assert.equal(reached(withHostile, 'n0', 'm0').size, 4, `the honest nodes linked without the hostile one (seed ${seed})`)
    }
    // a 12-node seed with two links a node: gossip crosses nodes that are not linked, and every check holds
    const sparse = run({ ...scenario(2), links: 2 })
    passes(sparse)
    const whole = run({ ...scenario(2), links: undefined })
    assert.ok(sparse.counts.gossip < whole.counts.gossip, `fewer gossip deliveries over fewer links: ${sparse.counts.gossip} against ${whole.counts.gossip}`)
  })

  it('replays a seed exactly', () => {
    const a = run(scenario(7))
    const b = run(scenario(7))
    assert.deepEqual(b.trace, a.trace)
    assert.deepEqual(b.counts, a.counts)
  })

  it('reports a replica that was broken behind the replication core\'s back', () => {
    const broken = scenario(3)
    // a "write" that bypasses replication: one replica's row changes under it, as a bug in the core would leave it
    const result = run({ ...broken, actions: [...broken.actions, { at: broken.faultsUntil + 1_000, kind: 'tamper', node: broken.nodes[0] as string, key: 'k0' }] })
    assert.ok(result.failures.some(f => /rows differ|holds/.test(f)), result.failures.join('\n'))
  })

  it('reports a past version of the hostile member\'s that one replica holds and another lacks, though it changed no row', () => {
    const hostile = scenario(3, { hostile: true })
    assert.equal(run(hostile).failures.length, 0)
    // as a version that lost on arrival at one replica only would be kept: in its history, never its key's row
    const action = { at: hostile.faultsUntil + 1_000, kind: 'tamper-history' as const, node: hostile.nodes[0] as string, key: 'k0', origin: hostile.hostile as string }
    const result = run({ ...hostile, actions: [...hostile.actions, action] })
    assert.ok(result.failures.some(f => f.startsWith('history of k0 differs')), result.failures.join('\n'))
  })
})
