/** The scale runs as a printed table (one row per size) and as JSON. */
import type { ScaleReport } from './run.js'

const kb = (bytes: number): string => bytes >= 10_000_000 ? `${(bytes / 1e6).toFixed(0)} M` : bytes >= 10_000 ? `${(bytes / 1000).toFixed(0)} k` : `${bytes}`
const ms = (value: number | undefined): string => value === undefined || !Number.isFinite(value) ? 'never' : value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`

/** One table per concern: propagation and recovery; bytes per node per second; what grows with the fleet. */
export function table (reports: ScaleReport[], rate: number): string {
  const rows = (head: string[], body: string[][]): string => {
    const widths = head.map((h, i) => Math.max(h.length, ...body.map(r => (r[i] ?? '').length)))
    const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ')
    return [line(head), line(widths.map(w => '-'.repeat(w))), ...body.map(line)].join('\n')
  }
  const propagation = rows(
    ['nodes', 'links', '99% p50', '99% p99', '100% p50', '100% p99', 'node p50', 'node p99', 'heal 1/3', 'GC under churn', 'left'],
    reports.map(r => [String(r.nodes), `${r.links.median}/${r.links.max}`, ms(r.t99.p50), ms(r.t99.p99), ms(r.t100.p50), ms(r.t100.p99), ms(r.delivery.p50), ms(r.delivery.p99),
      r.partitionHealMs === undefined ? '-' : ms(r.partitionHealMs), r.tombstones === undefined ? '-' : `${ms(r.tombstones.collectedMs.p50)} / ${ms(r.tombstones.collectedMs.max)}`,
      r.tombstones === undefined ? '-' : `${r.tombstones.left}`]))
  const bytes = rows(
    ['nodes', 'rest AE', 'rest ping', 'rest total', 'rest after', `${rate}/s gossip`, 'IHAVE', 'IWANT', 'GRAFT', 'AE', 'attest', 'attest (est.)', 'total'],
    reports.map(r => [String(r.nodes), kb(r.restBytes.ae), kb(r.restBytes.ping), kb(r.restBytes.total), r.restAfterBytes === undefined ? '-' : kb(r.restAfterBytes.total), kb(r.writeBytes.gossip), kb(r.writeBytes.ihave), kb(r.writeBytes.iwant), kb(r.writeBytes.graft),
      kb(r.writeBytes.ae), r.writeBytes.attest > 0 ? kb(r.writeBytes.attest) : '-', kb(r.attestEstimate), kb(r.writeBytes.total)]))
  const growth = rows(
    ['nodes', 'origins', 'AE hello', 'attestation', 'fan-out', 'events', 'wall', 'RSS'],
    reports.map(r => [String(r.nodes), String(r.origins), `${kb(r.helloBytes)} B`, r.attestationBytes > 0 ? `${kb(r.attestationBytes)} B` : '-', `${r.fanOut}×`,
      r.events.toLocaleString('en'), ms(r.wallMs), `${r.rssMB} MB`]))
  return `propagation: ms from a write until 99% / 100% of nodes hold it (p50, p99 over writes); node: write → each node; heal: a third cut off for 30 s, time from heal to every write everywhere; GC: delete → tombstone collected on every node (p50 / max), under churn\n${propagation}\n\n` +
    `bytes per node per second, in + out (rest: no writes yet; rest after: no writes, every writer an origin; then ${rate} writes/s)\n${bytes}\n\n` +
    `what grows with the fleet (at the end of the run)\n${growth}\n`
}
