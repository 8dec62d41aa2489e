/**
 * Reading a scrape as Prometheus would: parsed by a Prometheus text-format
 * parser (parse-prometheus-text-format, ported from the Prometheus Python
 * client's), which throws on a line that is not a sample, then checked for
 * what that parser lets through: every family typed and documented, valid
 * names, numeric values, counters not negative, each histogram series with
 * distinct bounds, cumulative buckets and `+Inf` = `_count`.
 *
 * The parser merges the series of a labelled histogram into one and drops
 * their `_sum` and `_count`, so histograms are read a second time with their
 * TYPE made `untyped`: the parser then gives every `_bucket`, `_sum` and
 * `_count` sample with its labels, and the series are put back together here.
 */
import parsePrometheusTextFormat, { type ParsedFamily, type ParsedSample } from 'parse-prometheus-text-format'
import { waitFor } from './harness.js'

export type { ParsedFamily, ParsedSample }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** Parses and checks a scrape; throws naming the first family that is wrong. */
export function parseExposition (text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>()
  // untyped, a histogram's `_bucket`, `_sum` and `_count` lines come out as families of their own, once per series
  const raw = new Map<string, ParsedSample[]>()
  for (const { name, metrics } of parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped'))) {
    raw.set(name, [...raw.get(name) ?? [], ...metrics])
  }
  for (const family of parsePrometheusTextFormat(text)) {
    const fail = (why: string): never => { throw new Error(`metric family ${family.name}: ${why}`) }
    if (families.has(family.name)) fail('declared twice')
    if (family.type === 'HISTOGRAM') family.metrics = histogramSeries(family.name, raw)
    families.set(family.name, family)
    if (!NAME.test(family.name)) fail('invalid name')
    if (family.type === 'UNTYPED') fail('no # TYPE line')
    if (family.help.trim() === '') fail('no # HELP text')
    for (const sample of family.metrics) {
      for (const label of Object.keys(sample.labels ?? {})) if (!LABEL.test(label)) fail(`invalid label name ${label}`)
      if (family.type === 'HISTOGRAM') checkHistogram(sample, fail)
      else if (family.type === 'SUMMARY') number(sample.sum, fail)
      else {
        const value = number(sample.value, fail)
        if (family.type === 'COUNTER' && !(value >= 0)) fail(`counter at ${String(value)}`)
      }
    }
  }
  return families
}

/** A histogram's series, one per label set: its buckets by `le`, its `_sum` and `_count`. */
function histogramSeries (name: string, raw: Map<string, ParsedSample[]>): ParsedSample[] {
  const series = new Map<string, ParsedSample>()
  const of = (labels: Record<string, string> = {}): ParsedSample => {
    const { le: _, ...rest } = labels
    const key = JSON.stringify(Object.entries(rest).sort())
    let found = series.get(key)
    if (found === undefined) series.set(key, (found = { labels: rest, buckets: {} }))
    return found
  }
  for (const sample of raw.get(`${name}_bucket`) ?? []) {
    const le = sample.labels?.le
    if (le === undefined) throw new Error(`metric family ${name}: a bucket without le`)
    const buckets = of(sample.labels).buckets as Record<string, string>
    if (le in buckets) throw new Error(`metric family ${name}: bucket le="${le}" twice in one series`)
    buckets[le] = sample.value as string
  }
  for (const sample of raw.get(`${name}_sum`) ?? []) of(sample.labels).sum = sample.value
  for (const sample of raw.get(`${name}_count`) ?? []) of(sample.labels).count = sample.value
  return [...series.values()]
}

function checkHistogram (sample: ParsedSample, fail: (why: string) => never): void {
  // the parser keeps buckets in an object, whose integer keys JavaScript orders first: sort by bound
  const buckets = Object.entries(sample.buckets ?? {}).map(([le, count]) => [number(le, fail), number(count, fail)] as const).sort((a, b) => a[0] - b[0])
  if (buckets.length === 0) fail('a histogram with no buckets')
  let previous: readonly [number, number] = [-Infinity, 0]
  for (const bucket of buckets) {
    if (bucket[0] === previous[0]) fail(`bucket le="${bucket[0]}" twice in one series`)
    if (bucket[1] < previous[1]) fail('bucket counts not cumulative')
    previous = bucket
  }
  if (previous[0] !== Infinity) fail('no +Inf bucket')
  if (previous[1] !== number(sample.count, fail)) fail('+Inf bucket differs from _count')
  number(sample.sum, fail)
}

/** A sample value as Prometheus reads it (Go's ParseFloat: Inf and NaN in any case; prom-client writes "Nan"). */
function number (text: string | undefined, fail: (why: string) => never): number {
  if (text !== undefined && /^\+?inf(inity)?$/i.test(text)) return Infinity
  if (text !== undefined && /^-inf(inity)?$/i.test(text)) return -Infinity
  if (text !== undefined && /^nan$/i.test(text)) return NaN
  const value = Number(text)
  if (text == null || text.trim() === '' || Number.isNaN(value)) fail(`value "${String(text)}" is not a number`)
  return value
}

/** The samples of a family whose labels include `labels`. */
export function samples (families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): ParsedSample[] {
  const family = families.get(name)
  if (family == null) throw new Error(`no metric family ${name} in the scrape`)
  return family.metrics.filter(sample => Object.entries(labels).every(([k, v]) => sample.labels?.[k] === v))
}

/** The sum of a counter's or gauge's samples matching `labels` (0 when none match). */
export function value (families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number {
  return samples(families, name, labels).reduce((sum, sample) => sum + Number(sample.value), 0)
}

/** The observations a histogram counted, over its samples matching `labels`. */
export function observations (families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number {
  return samples(families, name, labels).reduce((sum, sample) => sum + Number(sample.count), 0)
}

/** GETs a URL on 127.0.0.1; every request has a deadline. */
export async function get (url: string, init: RequestInit = {}): Promise<Response> {
  if (!url.startsWith('http://127.0.0.1:')) throw new Error(`tests only talk to 127.0.0.1, not ${url}`)
  return await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) })
}

/** Scrapes a metrics URL and parses the answer. */
export async function scrape (url: string): Promise<Map<string, ParsedFamily>> {
  const response = await get(url)
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`)
  const type = response.headers.get('content-type') ?? ''
  if (!type.startsWith('text/plain; version=0.0.4')) throw new Error(`GET ${url}: content-type ${type}, not Prometheus text format`)
  return parseExposition(await response.text())
}

/** The metrics URL a murmurd printed in its banner. */
export async function metricsUrl (stdout: () => string): Promise<string> {
  return await waitFor(() => /^ {2}metrics: +(\S+)$/m.exec(stdout())?.[1], 'murmurd to print its metrics URL', 5_000)
}
