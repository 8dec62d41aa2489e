/**
 * Ops a replica holds already are not checked again (replica/known.ts): a
 * member that signed its ops one at a time (more batches than the checker
 * remembers) and replays them, by sync or gossip, buys no signature checks.
 * Ops with other content on a held seq still are.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Replica, decodeOps, encodeOps, proveOps, type Op } from '../src/index.js'
import { Clock, Keys, bytes, op, storeFactory, tempDir } from './helpers.js'

const dir = tempDir()
const keys = new Keys()
const OPS = 1_100 // over the 1,024 batches the checker remembers by signature

for (const kind of ['memory', 'sqlite'] as const) {
  describe(`ops held already (${kind})`, () => {
    it('are not checked again, whatever order or proof they come with; other content on a held seq is', () => {
      const clock = new Clock()
      let verified = 0
      const bob = new Replica({ store: storeFactory(kind, dir)(), nodeId: 'bob', now: clock.now, verify: (origin, payload, sig) => { verified++; return keys.verify(origin, payload, sig) } })
      const sign = keys.signer('mallory')
      const ops = Array.from({ length: OPS }, (_, i) => op(`k${i}`, 'x', { origin: 'mallory', seq: i + 1, wall: clock.ms - 1_000, logical: i }))
      for (const one of ops) proveOps([one], sign)
      assert.equal(bob.receive(decodeOps(encodeOps(ops))).applied, OPS)
      assert.equal(verified, OPS, 'each batch checked once as it arrives')

      const replay = decodeOps(encodeOps([...ops].reverse()))
      assert.deepEqual(bob.screen(replay), { fresh: [], known: OPS }, 'gossip: all known')
      const again = bob.receive(replay, { via: 'gossip' })
      assert.equal(again.duplicates, OPS)
      assert.equal(verified, OPS, 'a replay is not checked again')

      // a held op under another batch's signature changes nothing: not checked, not refused
      const [first, second] = decodeOps(encodeOps(ops.slice(0, 2))) as [Op, Op]
      const swapped = { ...first, proof: { ...first.proof!, sig: second.proof!.sig } }
      assert.deepEqual(bob.receive([swapped]), { ...again, duplicates: 1, refused: [], changed: [], conflicts: [], equivocations: [], applied: 0 })
      // other content on a held seq is checked, and refused under a proof that does not cover it
      const altered = { ...first, value: bytes('forged') }
      const screened = bob.screen([altered])
      assert.equal(screened.refusal?.kind, 'signature')
      assert.equal(verified, OPS, 'refused before a signature check: its digest is not in its proof')
    })
  })
}
