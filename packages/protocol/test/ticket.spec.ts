/**
 * The ticket format: what goes in comes out, every damaged or foreign string
 * is a TicketError naming the problem, and no input crashes the decoder.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { decodeTicket, encodeTicket, MAX_TICKET_ADDRS, TicketError, type Ticket } from '../src/index.js'

const peer = '12D3KooWAXx6iREjLnSWrtsro4kJMqXpCRgZFggZxQX9krR93Znq'
const sample: Ticket = {
  group: 'team',
  inviter: peer,
  addrs: [`/ip4/10.0.0.1/tcp/4001/p2p/${peer}`, `/ip4/192.0.2.7/tcp/4001/p2p/12D3KooWRelay/p2p-circuit/p2p/${peer}`],
  expires: 1_800_000_000_000,
  swarmKey: Uint8Array.from({ length: 32 }, (_, i) => i)
}

/** A ticket whose bytes end inside its last character, with that character's lowest (spare) bit flipped. */
function spareBitFlipped (): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  const text = ['t', 'te', 'tea', 'team'].map(group => encodeTicket({ ...sample, group })).find(t => ((t.length - 1) * 5) % 8 !== 0) as string
  return text.slice(0, -1) + alphabet[alphabet.indexOf(text.at(-1) as string) ^ 1]
}

describe('tickets', () => {
  it('round-trip, with and without a swarm key, as lowercase multibase base32', () => {
    const text = encodeTicket(sample)
    assert.match(text, /^b[a-z2-7]+$/)
    assert.deepEqual(decodeTicket(text), sample)
    const { swarmKey: _, ...open } = sample
    assert.deepEqual(decodeTicket(encodeTicket(open)), open)
    assert.deepEqual(decodeTicket(`  ${text.toUpperCase().replace(/^B/, 'b')}\n`), sample, 'pasted with blanks and upper case')
    assert.deepEqual(decodeTicket(text.replace(/.{40}/g, '$&\r\n  ')), sample, 'wrapped across lines by a mail client')
  })

  it('round-trip any fields (property)', () => {
    const text = fc.string({ maxLength: 60 }).filter(s => s.isWellFormed() && !s.includes('\uFFFD'))
    fc.assert(fc.property(text, text, fc.array(text, { maxLength: MAX_TICKET_ADDRS }), fc.integer({ min: 0, max: 2 ** 40 }), fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: undefined }),
      (group, inviter, addrs, seconds, swarmKey) => {
        const ticket: Ticket = { group, inviter, addrs, expires: seconds * 1000, ...(swarmKey != null ? { swarmKey } : {}) }
        assert.deepEqual(decodeTicket(encodeTicket(ticket)), ticket)
      }))
  })

  it('names what is wrong with a foreign, cut or altered string', () => {
    const text = encodeTicket(sample)
    const cases: Array<[string, RegExp]> = [
      ['', /starts with "b"/],
      ['zQm123', /starts with "b"/],
      ['bhello!', /"!" is not a base32 character/],
      // named as a JSON string: murmurd's refusal stays one line
      ['bhel\u0000lo', /^[^\n\r\0]*"\\u0000" is not a base32 character[^\n\r\0]*$/],
      ['b' + 'a'.repeat(40), /not a murmur ticket/],
      [text.slice(0, -3), /damaged ticket/],
      [text.slice(0, 30) + (text[30] === 'q' ? 'r' : 'q') + text.slice(31), /damaged ticket/],
      // the last character's spare bits, and a character added at the end, carry no byte: still a mistyped ticket
      [spareBitFlipped(), /damaged ticket/],
      [text + 'a', /damaged ticket/],
      ['b' + 'a'.repeat(40_000), /far longer than a ticket/]
    ]
    for (const [input, message] of cases) {
      assert.throws(() => decodeTicket(input), (err: Error) => err instanceof TicketError && message.test(err.message), `for ${input.slice(0, 20)}`)
    }
  })

  it('never throws anything but a TicketError, whatever the input (property)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), fc.uint8Array({ maxLength: 200 }), (s, bytes) => {
      for (const input of [s, 'b' + s, 'b' + Buffer.from(bytes).toString('base64').toLowerCase().replace(/[^a-z2-7]/g, '')]) {
        try {
          decodeTicket(input)
        } catch (err) {
          assert.ok(err instanceof TicketError, String(err))
        }
      }
    }), { numRuns: 2000 })
  })
})
