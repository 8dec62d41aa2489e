/**
 * The scale model (src/scale), at sizes that take seconds: every node ends
 * holding every write; gossip reaches 99% of the fleet within a heartbeat,
 * where anti-entropy alone takes seconds; bytes are counted; a tombstone is
 * collected everywhere under churn and a healed third catches up; one seed
 * gives one report.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { attestIntervalFor } from '@murmur/core'
import { runScale, scaleDefaults, type ScaleOptions, type ScaleReport } from '../src/index.js'

const small: ScaleOptions = { ...scaleDefaults, seed: 7, nodes: 30, rate: 10, writeSeconds: 2, phases: 'writes' }

/** The report without what depends on the machine (real time, memory). */
function stable (r: ScaleReport): Omit<ScaleReport, 'wallMs' | 'phaseMs' | 'rssMB'> {
  const { wallMs: _w, phaseMs: _p, rssMB: _r, ...rest } = r
  return rest
}

describe('scale model', () => {
  const gossip = runScale(small)

  it('brings every write to every node', () => {
    assert.equal(gossip.complete, 1)
    assert.ok(Number.isFinite(gossip.t100.p99))
  })

  it('reaches 99% of the fleet by gossip within a heartbeat, and by anti-entropy alone only after seconds', () => {
    const alone = runScale({ ...small, gossip: false })
    assert.equal(alone.complete, 1, 'anti-entropy alone still brings every write everywhere')
    assert.ok(gossip.t99.p99 < 1_000, `gossip: 99% after ${gossip.t99.p99} ms (p99 over writes)`)
    assert.ok(alone.t99.p50 > 2 * 1_000, `anti-entropy alone: 99% after ${alone.t99.p50} ms (p50 over writes)`)
    assert.equal(alone.writeBytes.gossip, 0)
  })

  it('counts the bytes of each kind of traffic', () => {
    for (const kind of ['gossip', 'ihave', 'ae', 'attest'] as const) assert.ok(gossip.writeBytes[kind] > 0, `${kind} bytes while writing`)
    assert.ok(gossip.restBytes.ae > 0 && gossip.restBytes.ping > 0 && gossip.restBytes.gossip === 0)
    assert.ok(Math.abs(gossip.attestEstimate - gossip.writeBytes.attest) < 0.25 * gossip.writeBytes.attest, `estimate ${gossip.attestEstimate} vs measured ${gossip.writeBytes.attest}`)
  })

  it('gives the same report for the same seed, and another for another', () => {
    assert.deepEqual(stable(runScale(small)), stable(gossip))
    assert.notDeepEqual(stable(runScale({ ...small, seed: 8 })), stable(gossip))
  })

  it('heals a partition of a third and collects tombstones under churn', () => {
    const full = runScale({ ...scaleDefaults, seed: 3, nodes: 12, rate: 20, writeSeconds: 2, churnPerMin: 0.2 })
    assert.ok(full.partitionHealMs !== undefined && full.partitionHealMs < 20_000, `healed after ${full.partitionHealMs} ms`)
    assert.ok(full.tombstones !== undefined && full.tombstones.left === 0, 'every tombstone collected on every node')
    assert.ok(full.tombstones.departures > 0, 'nodes left and came back meanwhile')
    assert.ok(full.tombstones.collectedMs.max >= scaleDefaults.graceMs, 'not before the grace')
  })

  it('spaces attestations as murmurd does: a tenth of the grace, within 1–10 s', () => {
    assert.deepEqual([5_000, 30_000, 300_000, 3_600_000].map(attestIntervalFor), [1_000, 3_000, 10_000, 10_000])
    assert.equal(scaleDefaults.attestIntervalMs, attestIntervalFor(scaleDefaults.graceMs))
    const twelve = { ...small, nodes: 12, writeSeconds: 6 }
    const spaced = runScale({ ...twelve, graceMs: 300_000, attestIntervalMs: attestIntervalFor(300_000) })
    const eachSecond = runScale({ ...twelve, attestIntervalMs: 1_000 })
    assert.ok(spaced.writeBytes.attest > 0 && spaced.writeBytes.attest * 2 < eachSecond.writeBytes.attest, `attestation bytes ${spaced.writeBytes.attest} at 10 s, ${eachSecond.writeBytes.attest} at 1 s`)
  })
})
