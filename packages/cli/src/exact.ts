/**
 * Values read as base64 and shown as they are stored. Sent as JSON, a json
 * value reaches murmurctl through `JSON.parse`, whose doubles print `1e400` as
 * `null` and round `12345678901234567891`; so the commands that print values
 * ask for base64 (`EXACT`) and turn what comes back into the shape a UTF-8
 * answer has, a json value as its stored text (`JsonText`, printed by
 * `stringifyExact` and `valueText`).
 */
import { exactValue, type WatchEvent, type WireValueType } from '@murmur/protocol/client'

/** The params that ask for values as they are stored. */
export const EXACT = { encoding: 'base64' } as const

interface Valued { value?: unknown, encoding?: 'base64' }

/** An entry or history version read with `EXACT`, as it reads as UTF-8 but with a json value's exact text. */
export function exactEntry<T extends Valued & { type?: WireValueType }> (entry: T): T {
  return withExact(entry, entry.type)
}

/** A change event read with `EXACT` (its value's type is `valueType`), likewise. */
export function exactEvent (event: WatchEvent): WatchEvent {
  if (event.type === 'snapshot') return { ...event, entries: event.entries.map(exactEntry) }
  if (event.type === 'ready') return event
  return withExact(event, event.valueType)
}

function withExact<T extends Valued> (item: T, type: WireValueType | undefined): T {
  if (item.encoding !== 'base64' || typeof item.value !== 'string') return item
  const exact = exactValue(item.value, type)
  // in the order the fields came (--json output keeps its layout)
  const fields = Object.entries(item).flatMap(([name, v]) => name === 'value' ? Object.entries(exact) : name === 'encoding' ? [] : [[name, v]])
  return Object.fromEntries(fields) as T
}
