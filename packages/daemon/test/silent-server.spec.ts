/**
 * A member that answers a pull's hello and then says nothing more, keeping
 * the stream open, does not hold the pull until its 5-minute deadline: a
 * sync stream on which no byte arrives for `--sync-stall` (20 s; 3 s here,
 * to wait less) fails (framed.ts; libp2p 3 keeps a stream's
 * `inactivityTimeout` but acts on it nowhere, so the 20 s murmurd set there
 * ended nothing).
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { Frame, Hello } from '@murmur/core'
import { Attacker } from './attacker.js'
import { TestCluster, logged, waitFor } from './harness.js'

/** alice's `--sync-stall`, in seconds. */
const STALL_S = 3

describe('a member that falls silent in the middle of a pull', () => {
  const cluster = new TestCluster()
  let attacker: Attacker | undefined
  let release = (): void => {}
  after(async () => {
    release()
    await attacker?.stop()
    await cluster.close()
  })

  it('has the pull fail once nothing has come for --sync-stall', async () => {
    attacker = await Attacker.start()
    const mallory = attacker
    const silence = new Promise<void>(resolve => { release = resolve })
    mallory.answer = async function * (_puller: string, hello: Hello): AsyncGenerator<Frame> {
      yield mallory.hello(hello)
      await silence
    }
    const alice = await cluster.start('alice', { peers: [mallory.node.getMultiaddrs()[0]?.toString() ?? ''], args: ['--sync-stall', String(STALL_S * 1000)] })
    await waitFor(() => mallory.pulls.length > 0, 'alice to pull from mallory')
    const asked = Date.now()
    const stalled = `sent nothing on this sync stream for ${STALL_S} s`
    await logged(alice, new RegExp(`${stalled}[^\\n]*sync from peer failed|sync from peer failed[^\\n]*${stalled}`), 'that the pull from mallory stalled', 60_000)
    const took = Date.now() - asked
    console.log(`# the pull from silent mallory failed ${(took / 1000).toFixed(0)} s after it began`)
    assert.ok(took >= STALL_S * 750, `${took} ms: not before the stall timeout`)
  })
})
