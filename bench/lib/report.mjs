/**
 * Collects result rows (median of runs, same-run baseline, ratio, target) and
 * renders them as a console table, JSON and Markdown.
 */
import { fmt, median } from './stats.mjs'

export class Report {
  constructor (meta) {
    this.meta = meta
    this.rows = []
    this.details = {}
    this.charts = []
  }

  /**
   * runs: one value per run. baseline: { label, runs } measured in the same run.
   * target: { on: 'value' | 'ratio', op: '<=' | '>=', limit, text }.
   */
  row ({ section, id, label, unit, runs, baseline, target, note }) {
    const value = median(runs)
    let base, ratio
    if (baseline != null) {
      base = median(baseline.runs)
      const paired = baseline.runs.length === runs.length
        ? runs.map((v, i) => v / baseline.runs[i]).filter(Number.isFinite)
        : []
      ratio = paired.length > 0 ? median(paired) : value / base
    }
    let met
    if (target != null) {
      const x = target.on === 'ratio' ? ratio : value
      met = Number.isFinite(x) ? (target.op === '<=' ? x <= target.limit : x >= target.limit) : false
    }
    const row = { section, id, label, unit, value, runs, baseline: baseline != null ? { label: baseline.label, unit: baseline.unit ?? unit, value: base, runs: baseline.runs } : undefined, ratio, target, met, note }
    this.rows.push(row)
    return row
  }

  detail (key, value) { this.details[key] = value }

  /** An SVG a section drew: written beside the results as <date>-<name>.svg and linked from the Markdown. */
  chart (name, svg, title) { this.charts.push({ name, svg, title }) }

  toJSON () {
    return { meta: this.meta, rows: this.rows, details: this.details }
  }

  /** Rows as arrays of cells, for the console and Markdown. */
  cells () {
    return this.rows.map(r => [
      r.section,
      r.label,
      `${fmt(r.value)} ${r.unit}`,
      r.runs.length > 1 ? r.runs.map(v => fmt(v)).join(' / ') : '1 run',
      r.baseline != null ? `${r.baseline.label}: ${fmt(r.baseline.value)} ${r.baseline.unit}` : '',
      r.ratio != null ? `${fmt(r.ratio)}×` : '',
      r.target?.text ?? '',
      r.met == null ? '' : r.met ? 'met' : 'MISSED'
    ])
  }

  table () {
    const header = ['#', 'measure', 'median', 'runs', 'baseline (same run, median)', 'ratio', 'target', '']
    const rows = [header, ...this.cells()]
    const widths = header.map((_, i) => Math.min(60, Math.max(...rows.map(r => String(r[i]).length))))
    const line = r => r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd()
    return [line(header), widths.map(w => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
  }

  markdown ({ chartFiles = [] } = {}) {
    const m = this.meta
    const esc = s => String(s).replaceAll('|', '\\|')
    const lines = [
      `# murmur benchmark — ${m.date}${m.quick ? ' (quick)' : ''}`,
      '',
      `${m.host.cpus} × ${m.host.cpuModel}, ${m.host.memGiB} GiB, Node ${m.node}, ${m.host.kernel}; load average at start ${m.host.loadavg.map(x => x.toFixed(2)).join(' ')}.`,
      `Medians of ${m.runs} runs unless marked; every baseline was measured in the same run, and ratios are medians of per-run ratios.`,
      `Duration: ${(m.durationMs / 1000).toFixed(0)} s. Command: \`${m.command}\`.`,
      '',
      '| # | measure | median | runs | baseline (same run, median) | ratio | target | |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...this.cells().map(c => `| ${c.map(esc).join(' | ')} |`),
      ''
    ]
    const notes = this.rows.filter(r => r.note != null)
    if (notes.length > 0) {
      lines.push('Notes:', '')
      for (const r of notes) lines.push(`- **${r.section} ${r.label}**: ${r.note}`)
      lines.push('')
    }
    for (const f of chartFiles) lines.push(`![${f.title}](${f.file})`, '')
    return lines.join('\n')
  }
}
