/**
 * A hand-written SVG chart: cumulative distribution of propagation latency
 * (log-scaled milliseconds), one line per series, with p50 and p99 marked.
 */
import { percentile, sorted } from './stats.mjs'

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b']
const esc = s => String(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

export function cdfSvg (series, { title, subtitle = '' } = {}) {
  const W = 900; const H = 480
  const m = { left: 70, right: 260, top: 60, bottom: 60 }
  const pw = W - m.left - m.right; const ph = H - m.top - m.bottom
  const data = Object.entries(series).filter(([, v]) => v.length > 0).map(([name, v]) => [name, sorted(v.filter(Number.isFinite)), v.length])
  const all = data.flatMap(([, s]) => [s[0], s[s.length - 1]]).filter(x => x > 0)
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(0.1, Math.min(...all, 1)))))
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...all, 10))))
  const x = ms => m.left + (Math.log10(Math.min(hi, Math.max(lo, ms))) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo)) * pw
  const y = q => m.top + (1 - q) * ph
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.left}" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="${m.left}" y="42" fill="#555">${esc(subtitle)}</text>`]
  for (let d = Math.log10(lo); d <= Math.log10(hi) + 1e-9; d++) {
    for (const k of [1, 2, 5]) {
      const v = k * Math.pow(10, d)
      if (v > hi * 1.0001) break
      out.push(`<line x1="${x(v)}" y1="${m.top}" x2="${x(v)}" y2="${m.top + ph}" stroke="${k === 1 ? '#ccc' : '#eee'}"/>`)
      if (k === 1 || k === 5) out.push(`<text x="${x(v)}" y="${m.top + ph + 16}" text-anchor="middle">${v >= 1000 ? `${v / 1000} s` : v >= 1 ? v : v.toFixed(1)}</text>`)
    }
  }
  for (const q of [0, 0.25, 0.5, 0.75, 0.9, 1]) {
    out.push(`<line x1="${m.left}" y1="${y(q)}" x2="${m.left + pw}" y2="${y(q)}" stroke="${q === 0.5 ? '#bbb' : '#eee'}"/>`)
    out.push(`<text x="${m.left - 6}" y="${y(q) + 4}" text-anchor="end">${(q * 100).toFixed(0)}%</text>`)
  }
  out.push(`<line x1="${m.left}" y1="${y(0.99)}" x2="${m.left + pw}" y2="${y(0.99)}" stroke="#999" stroke-dasharray="4 3"/>`)
  out.push(`<text x="${m.left + 4}" y="${y(0.99) + 14}" fill="#666">p99</text>`)
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`)
  out.push(`<text x="${m.left + pw / 2}" y="${H - 18}" text-anchor="middle">latency from kv_put sent to kv_subscription event received (ms, log scale)</text>`)
  out.push(`<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">share of events at or below</text>`)
  data.forEach(([name, s, total], i) => {
    const color = COLORS[i % COLORS.length]
    const step = Math.max(1, Math.floor(s.length / 600))
    const pts = []
    for (let k = 0; k < s.length; k += step) pts.push(`${x(s[k]).toFixed(1)},${y((k + 1) / total).toFixed(1)}`)
    pts.push(`${x(s[s.length - 1]).toFixed(1)},${y(s.length / total).toFixed(1)}`)
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`)
    const p50 = percentile(s, 50); const p99 = total > s.length && s.length < 0.99 * total ? Infinity : percentile(s, 99)
    for (const [q, v] of [[0.5, p50], [0.99, p99]]) if (Number.isFinite(v)) out.push(`<circle cx="${x(v)}" cy="${y(q)}" r="3.5" fill="${color}"/>`)
    const ly = m.top + 10 + i * 46
    out.push(`<line x1="${m.left + pw + 14}" y1="${ly}" x2="${m.left + pw + 34}" y2="${ly}" stroke="${color}" stroke-width="3"/>`)
    out.push(`<text x="${m.left + pw + 40}" y="${ly + 4}">${esc(name)}</text>`)
    out.push(`<text x="${m.left + pw + 40}" y="${ly + 20}" fill="#555">p50 ${p50.toFixed(1)} ms, p99 ${Number.isFinite(p99) ? p99.toFixed(1) : '∞'} ms</text>`)
    out.push(`<text x="${m.left + pw + 40}" y="${ly + 34}" fill="#555">${total.toLocaleString('en-US')} events${total > s.length ? `, ${total - s.length} lost` : ''}</text>`)
  })
  out.push('</svg>')
  return out.join('\n')
}
