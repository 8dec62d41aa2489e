/**
 * Load loops. Every loop is bounded in count and in time and stops by itself.
 */
import { performance } from 'node:perf_hooks'
import { sleep } from './daemon.mjs'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/**
 * A value of `bytes` printable ASCII bytes (its UTF-8 wire form and stored
 * form have the same size), pseudo-random from `seed` (xorshift32) so that it
 * does not compress: wire-byte figures must not flatter a compressing link.
 */
export function valueOf (bytes, seed = 0) {
  let x = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1
  let s = ''
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    s += ALPHABET[x & 63]
  }
  return s
}

/** Sequential kv_put on one client until `ms` or `max` puts; returns { count, seconds }. */
export async function sequentialPuts (client, { prefix, ms, max, value }) {
  const start = performance.now()
  let n = 0
  while (n < max && performance.now() - start < ms) {
    await client.call('kv_put', { key: `${prefix}:${n}`, value })
    n++
  }
  return { count: n, seconds: (performance.now() - start) / 1000 }
}

/** Each client runs sequential puts concurrently; returns the total. */
export async function concurrentPuts (clients, { prefix, ms, max, value }) {
  const start = performance.now()
  const per = Math.ceil(max / clients.length)
  const counts = await Promise.all(clients.map(async (c, i) =>
    (await sequentialPuts(c, { prefix: `${prefix}:${i}`, ms, max: per, value })).count))
  return { count: counts.reduce((a, b) => a + b, 0), seconds: (performance.now() - start) / 1000 }
}

/** Batches of `size` kv_put requests, one batch in flight, until `ms` or `max` keys. */
export async function batchedPuts (client, { prefix, ms, max, size = 1000, value, keyOf }) {
  const start = performance.now()
  let n = 0
  while (n < max && performance.now() - start < ms) {
    const count = Math.min(size, max - n)
    const calls = new Array(count)
    for (let i = 0; i < count; i++) calls[i] = { method: 'kv_put', params: { key: keyOf != null ? keyOf(n + i) : `${prefix}:${n + i}`, value: typeof value === 'function' ? value(n + i) : value } }
    await client.batch(calls)
    n += count
  }
  return { count: n, seconds: (performance.now() - start) / 1000 }
}

/**
 * Runs the write path until V8 has optimized it, untimed: batches (at most
 * 5,000 keys, so the data set stays small), then `clients` concurrently,
 * then the first client alone, a third of `ms` each. A new murmurd runs its
 * first ~15,000 writes partly unoptimized (TurboFan compiles the hot
 * functions, and compiles them again as other shapes of ops appear), at up
 * to twice the CPU per write it settles at: measured without this, a short
 * window times the compiler as much as murmur. The writes reach its peers,
 * which warm up with it.
 */
export async function warmUp (clients, { prefix = 'warm', ms, value }) {
  const [first] = clients
  await batchedPuts(first, { prefix: `${prefix}b`, ms: ms / 3, max: 5_000, value })
  await concurrentPuts(clients, { prefix: `${prefix}c`, ms: ms / 3, max: 1_000_000, value })
  await sequentialPuts(first, { prefix: `${prefix}s`, ms: ms / 3, max: 1_000_000, value })
}

/** Key `i` of a data set, fixed width so every key has the same length. */
export const keyOf = (prefix, i) => `${prefix}:${String(i).padStart(7, '0')}`

/**
 * Open-loop puts at `rate` per second for `ms` (at most rate*ms/1000 puts), on
 * one or more writer clients (round robin). `onSend(key, sentAt)` is called
 * just before each request is written. Never more than `maxInFlight` unanswered
 * per client. `onAck(key, at)`, if given, is called as each answer arrives.
 * Resolves with { sent, acked, seconds, ackLatencies }.
 */
export async function openLoopPuts (writers, { rate, ms, keyFor, value, onSend, onAck, maxInFlight = 900 }) {
  const total = Math.floor(rate * ms / 1000)
  const inFlight = writers.map(() => 0)
  const ackLatencies = []
  const pending = []
  const start = performance.now()
  let sent = 0
  let acked = 0
  let skippedTicks = 0
  while (sent < total) {
    const now = performance.now()
    if (now - start > ms * 1.5 + 1000) break // could not even send in time: give up, the step failed
    const due = Math.min(total, Math.floor((now - start) * rate / 1000) + 1)
    while (sent < due) {
      const w = sent % writers.length
      if (inFlight[w] >= maxInFlight) { skippedTicks++; break }
      const key = keyFor(sent)
      const sentAt = performance.now()
      onSend(key, sentAt)
      inFlight[w]++
      pending.push(writers[w].call('kv_put', { key, value }).then(() => {
        inFlight[w]--
        acked++
        const at = performance.now()
        ackLatencies.push(at - sentAt)
        onAck?.(key, at)
      }))
      sent++
    }
    await sleep(1)
  }
  const sendSeconds = (performance.now() - start) / 1000
  await Promise.race([Promise.allSettled(pending), sleep(10_000)])
  return { sent, acked, seconds: sendSeconds, ackLatencies, skippedTicks }
}
