/**
 * A hand-written SVG: one small line chart per measure against cluster size
 * (log-scaled x), each with its own y scale from 0, points labelled.
 */
const esc = s => String(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
const label = v => v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)

export function sizeChartSvg (sizes, series, { title, subtitle = '' } = {}) {
  const cols = 2
  const cw = 440; const ch = 220
  const m = { left: 60, right: 20, top: 40, bottom: 36 }
  const W = cols * cw; const H = 70 + Math.ceil(series.length / cols) * ch
  const lo = Math.log10(Math.min(...sizes)); const hi = Math.log10(Math.max(...sizes))
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="20" y="26" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="20" y="46" fill="#555">${esc(subtitle)}</text>`]
  series.forEach(({ name, values }, k) => {
    const ox = (k % cols) * cw; const oy = 60 + Math.floor(k / cols) * ch
    const pw = cw - m.left - m.right; const ph = ch - m.top - m.bottom
    const top = Math.max(...values.filter(Number.isFinite), 1e-9) * 1.15
    const x = n => ox + m.left + (hi === lo ? pw / 2 : (Math.log10(n) - lo) / (hi - lo) * pw)
    const y = v => oy + m.top + ph - Math.min(v, top) / top * ph
    out.push(`<text x="${ox + m.left}" y="${oy + 24}" font-weight="bold">${esc(name)}</text>`)
    out.push(`<rect x="${ox + m.left}" y="${oy + m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`)
    for (const n of sizes) out.push(`<text x="${x(n)}" y="${oy + m.top + ph + 16}" text-anchor="middle">${n}</text>`)
    out.push(`<text x="${ox + m.left - 6}" y="${oy + m.top + ph + 4}" text-anchor="end">0</text>`)
    const points = sizes.map((n, i) => [x(n), y(values[i]), values[i]]).filter(([, , v]) => Number.isFinite(v))
    out.push(`<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ')}"/>`)
    for (const [px, py, v] of points) {
      out.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="3" fill="#1f77b4"/>`)
      out.push(`<text x="${px.toFixed(1)}" y="${(py - 8).toFixed(1)}" text-anchor="middle" fill="#333">${label(v)}</text>`)
    }
  })
  out.push(`<text x="${W / 2}" y="${H - 6}" text-anchor="middle" fill="#555">nodes in the cluster (log scale)</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
