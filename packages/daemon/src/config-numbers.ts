/**
 * The number settings of murmurd's configuration (config.ts), each checked
 * whole: a value is only digits, never `Number()`'s reading of `0x10`, `1e3`
 * or `' 5 '`, and a bad one is a `ConfigError` naming its flag.
 */
import { ConfigError } from './errors.js'

/** The longest window: past this the wait would cost more latency than any saving is worth. */
const MAX_PUBLISH_WINDOW_MS = 1_000

export function publishWindow (value: string): number {
  const n = digits(value) // a blank variable must not turn the window off
  if (!(n <= MAX_PUBLISH_WINDOW_MS)) throw new ConfigError(`invalid --publish-window "${value}": expected a whole number of ms from 0 (publish at once) to ${MAX_PUBLISH_WINDOW_MS}`)
  return n
}

/** `value` as a number when it is only digits, else NaN (`Number('')` is 0). */
function digits (value: string): number {
  return /^\d+$/.test(value) ? Number(value) : NaN
}

export function wholeNumber (flag: string, value: string): number {
  const n = digits(value)
  if (!Number.isSafeInteger(n)) throw new ConfigError(`invalid ${flag} "${value}": expected a whole number (0 or more)`)
  return n
}

export function positiveInteger (flag: string, value: string): number {
  const n = digits(String(value)) // not Number(): it takes 0x10, 1e3 and ' 5 ' too
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`invalid ${flag} "${value}": expected a positive whole number`)
  return n
}

/** The shortest: pings go every half of it, and a pong may wait behind a frame of sync on a busy connection. */
const MIN_PING_TIMEOUT_MS = 1_000

export function pingTimeout (value: string): number {
  const n = digits(value)
  if (!(Number.isSafeInteger(n) && n >= MIN_PING_TIMEOUT_MS)) throw new ConfigError(`invalid --ping-timeout "${value}": expected a whole number of ms, at least ${MIN_PING_TIMEOUT_MS}`)
  return n
}
