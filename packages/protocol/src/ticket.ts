/**
 * An invitation ticket: everything a new node needs to join a group, as one
 * copyable string. `murmurctl invite` gets one from murmurd and
 * `murmurd --join` reads it; the format lives here so neither needs the other.
 *
 * The string is multibase base32 (a leading `b`, then RFC 4648 lowercase
 * without padding, as iroh's tickets are), so it survives a double-click, a
 * chat window and a shell without quoting. Its bytes:
 *
 * ```
 * "mt" 0x01 flags varint(expires, seconds) str(group) str(inviter) varint(n) n × str(addr) [32-byte swarm key] sha256[0..4]
 * ```
 *
 * where `str` is a varint length and UTF-8, and flags bit 0 says a swarm key
 * follows. The 4-byte checksum turns a ticket cut short or mistyped into a
 * clear "damaged" error rather than a wrong address. Nothing here is checked
 * against the world (peer IDs, multiaddrs, the clock): the daemon does that.
 */
import { createHash } from 'node:crypto'
import { SWARM_KEY_BYTES } from './swarm-key.js'

export interface Ticket {
  group: string
  /** The inviting node's peer ID. */
  inviter: string
  /** Multiaddrs to reach the group, each ending in `/p2p/<peer id>` (direct or relayed). */
  addrs: string[]
  /** When the ticket stops being accepted, in ms since the epoch (stored to the second). */
  expires: number
  /** The group's 32-byte swarm key, for a closed group: a ticket that has one is a secret. */
  swarmKey?: Uint8Array
}

/** A string that is not a whole, well-formed ticket; the message says what is wrong with it. */
export class TicketError extends Error {
  static override name = 'TicketError'
  override name = 'TicketError'
}

const MAGIC = [0x6d, 0x74]
const VERSION = 1
const HAS_KEY = 1
const CHECKSUM_BYTES = 4
export const MAX_TICKET_ADDRS = 16
const MAX_TEXT_BYTES = 1024
/** Longer than any ticket this encoder makes, so a pasted file is refused before it is decoded. */
export const MAX_TICKET_LENGTH = 32 * 1024
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'

export function encodeTicket (ticket: Ticket): string {
  if (ticket.addrs.length > MAX_TICKET_ADDRS) throw new RangeError(`a ticket holds at most ${MAX_TICKET_ADDRS} addresses`)
  const bytes: number[] = [...MAGIC, VERSION, ticket.swarmKey != null ? HAS_KEY : 0]
  writeVarint(bytes, Math.ceil(ticket.expires / 1000))
  for (const text of [ticket.group, ticket.inviter]) writeText(bytes, text)
  writeVarint(bytes, ticket.addrs.length)
  for (const addr of ticket.addrs) writeText(bytes, addr)
  if (ticket.swarmKey != null) {
    if (ticket.swarmKey.byteLength !== SWARM_KEY_BYTES) throw new RangeError(`a swarm key is ${SWARM_KEY_BYTES} bytes`)
    bytes.push(...ticket.swarmKey)
  }
  bytes.push(...checksum(Uint8Array.from(bytes)))
  return 'b' + toBase32(Uint8Array.from(bytes))
}

export function decodeTicket (text: string): Ticket {
  // a ticket wrapped across lines by a mail or chat client is still the ticket (the checksum catches the rest)
  const trimmed = text.replace(/\s+/g, '')
  if (trimmed.length > MAX_TICKET_LENGTH) throw new TicketError(`not a murmur ticket: ${trimmed.length} characters is far longer than a ticket`)
  if (!trimmed.startsWith('b')) throw new TicketError('not a murmur ticket: a ticket starts with "b" (multibase base32), as murmurctl invite prints it')
  const bytes = fromBase32(trimmed.slice(1))
  if (bytes.length < MAGIC.length + 2 + CHECKSUM_BYTES || bytes[0] !== MAGIC[0] || bytes[1] !== MAGIC[1]) {
    throw new TicketError('not a murmur ticket (or a damaged one): copy the whole line murmurctl invite printed')
  }
  const body = bytes.subarray(0, bytes.length - CHECKSUM_BYTES)
  if (!checksum(body).every((b, i) => b === bytes[body.length + i])) {
    throw new TicketError('damaged ticket: its checksum does not match; copy the whole line murmurctl invite printed')
  }
  if (body[2] !== VERSION) throw new TicketError(`ticket version ${body[2]} is not one this murmurd reads (it reads version ${VERSION}): upgrade murmurd`)
  const reader = new Reader(body, 4)
  const expires = reader.varint() * 1000
  const group = reader.text()
  const inviter = reader.text()
  const count = reader.varint()
  if (count > MAX_TICKET_ADDRS) throw new TicketError(`malformed ticket: ${count} addresses (at most ${MAX_TICKET_ADDRS})`)
  const addrs = Array.from({ length: count }, () => reader.text())
  const swarmKey = (body[3] ?? 0) & HAS_KEY ? reader.bytes(SWARM_KEY_BYTES) : undefined
  if (!reader.done) throw new TicketError('malformed ticket: unexpected bytes after its fields')
  return { group, inviter, addrs, expires, ...(swarmKey != null ? { swarmKey } : {}) }
}

function checksum (bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest().subarray(0, CHECKSUM_BYTES)
}

function writeVarint (out: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a varint: ${value}`)
  let rest = value
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  out.push(rest)
}

function writeText (out: number[], text: string): void {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length > MAX_TEXT_BYTES) throw new RangeError(`a ticket field is at most ${MAX_TEXT_BYTES} bytes`)
  writeVarint(out, bytes.length)
  out.push(...bytes)
}

class Reader {
  constructor (private readonly buf: Uint8Array, private offset: number) {}

  get done (): boolean { return this.offset === this.buf.length }

  varint (): number {
    let value = 0
    for (let shift = 1, i = 0; i < 8; i++, shift *= 0x80) {
      const byte = this.bytes(1)[0] as number
      value += (byte & 0x7f) * shift
      if ((byte & 0x80) === 0) return value
    }
    throw new TicketError('malformed ticket: a number is too long')
  }

  text (): string {
    const length = this.varint()
    if (length > MAX_TEXT_BYTES) throw new TicketError(`malformed ticket: a field of ${length} bytes (at most ${MAX_TEXT_BYTES})`)
    const text = Buffer.from(this.bytes(length)).toString('utf8')
    if (!text.isWellFormed() || text.includes('\uFFFD')) throw new TicketError('malformed ticket: a field is not UTF-8')
    return text
  }

  bytes (n: number): Uint8Array {
    if (this.offset + n > this.buf.length) throw new TicketError('malformed ticket: it ends in the middle of a field')
    const out = this.buf.slice(this.offset, this.offset + n)
    this.offset += n
    return out
  }
}

function toBase32 (bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31]
  return out
}

function fromBase32 (text: string): Uint8Array {
  const out: number[] = []
  let bits = 0
  let value = 0
  for (const char of text.toLowerCase()) {
    const digit = ALPHABET.indexOf(char)
    if (digit < 0) throw new TicketError(`not a murmur ticket: ${JSON.stringify(char)} is not a base32 character (a-z, 2-7)`)
    value = (value << 5) | digit
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
    value &= (1 << bits) - 1
  }
  // what toBase32 makes ends in fewer than 5 spare bits, all zero: anything else is a character mistyped or added at the end
  if (bits >= 5 || value !== 0) throw new TicketError('damaged ticket: it does not end as a ticket does; copy the whole line murmurctl invite printed')
  return Uint8Array.from(out)
}
