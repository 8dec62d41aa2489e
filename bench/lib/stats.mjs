/** Small statistics helpers: the bench quotes medians of runs and percentiles of samples. */

export function sorted (values) {
  return Float64Array.from(values).sort()
}

/** The p-th percentile (0–100) of ascending `s`, nearest-rank. */
export function percentile (s, p) {
  if (s.length === 0) return NaN
  const rank = Math.ceil((p / 100) * s.length)
  return s[Math.min(s.length, Math.max(1, rank)) - 1]
}

export function median (values) {
  const v = values.filter(x => Number.isFinite(x))
  if (v.length === 0) return NaN
  const s = sorted(v)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

export function mean (values) {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length
}

export function summary (samples) {
  const s = sorted(samples)
  return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN }
}

/** Formats a number for a table: 3 significant digits, thousands separated. */
export function fmt (x, digits = 3) {
  if (x == null || Number.isNaN(x)) return '–'
  if (!Number.isFinite(x)) return '∞'
  const abs = Math.abs(x)
  if (abs >= 1000) return Math.round(x).toLocaleString('en-US')
  if (abs === 0) return '0'
  return Number(x.toPrecision(digits)).toString()
}

export function fmtBytes (b) {
  if (!Number.isFinite(b)) return '–'
  if (b >= 1024 * 1024) return `${fmt(b / 1024 / 1024)} MiB`
  if (b >= 1024) return `${fmt(b / 1024)} KiB`
  return `${b} B`
}
