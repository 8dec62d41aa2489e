/**
 * `new Date(ms).toISOString()`, by arithmetic. V8 makes its date cache on a
 * Date's first field access, UTC fields included, and that loads ICU's
 * default time zone: ~0.6 MB of the Node binary's ICU data paged into a
 * process that shows no local time anywhere (the peer book stamps every
 * handshake). Years outside 0–9999, which toISOString writes with six digits
 * and a sign, are left to it.
 */
const DAY_MS = 86_400_000

export function isoTime (ms: number): string {
  const days = Math.floor(ms / DAY_MS)
  const year = civilYear(days)
  if (!Number.isSafeInteger(ms) || year.y < 0 || year.y > 9999) return new Date(ms).toISOString()
  const inDay = ms - days * DAY_MS
  const two = (n: number): string => String(n).padStart(2, '0')
  return `${String(year.y).padStart(4, '0')}-${two(year.m)}-${two(year.d)}T${two(Math.floor(inDay / 3_600_000))}:${two(Math.floor(inDay / 60_000) % 60)}:` +
    `${two(Math.floor(inDay / 1000) % 60)}.${String(inDay % 1000).padStart(3, '0')}Z`
}

/** Year, month and day of a day counted from 1970-01-01 (Howard Hinnant's civil_from_days). */
function civilYear (days: number): { y: number, m: number, d: number } {
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const m = mp < 10 ? mp + 3 : mp - 9
  return { y: yoe + era * 400 + (m <= 2 ? 1 : 0), m, d: doy - Math.floor((153 * mp + 2) / 5) + 1 }
}
