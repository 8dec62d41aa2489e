/**
 * The WAL's fsyncs in 'group' durability, and a write riding on the next one
 * (`WalFile.syncedAfter`): what murmurd's proofs of own ops wait for before
 * their message leaves.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { describe, it } from 'node:test'
import { SqliteStore } from '../src/index.js'
import { tempDir } from './helpers.js'

const dir = tempDir()
let files = 0

function open (): { store: SqliteStore, wal: NonNullable<SqliteStore['wal']> } {
  const store = SqliteStore.open(join(dir, `wal-${files++}.db`), { durability: 'group' })
  assert.ok(store.wal !== undefined, "a 'group' store on disk has its WAL file")
  return { store, wal: store.wal }
}

const pause = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('WalFile.syncedAfter', () => {
  it('rides an fsync begun after the mark within the wait, and begins none of its own', async () => {
    const { store, wal } = open()
    const mark = wal.mark()
    const waited = wal.syncedAfter(mark, 1_000)
    await pause(5)
    const started = performance.now()
    await wal.sync()
    await waited
    assert.equal(wal.syncs, 1, 'only the other caller\'s fsync ran')
    assert.ok(performance.now() - started < 500, 'it did not wait out its 1 s')
    store.close()
  })

  it('rides a synchronous fsync (a commit\'s `syncNow`) as well', async () => {
    const { store, wal } = open()
    const mark = wal.mark()
    const waited = wal.syncedAfter(mark, 1_000)
    wal.syncNow()
    await waited
    assert.equal(wal.syncs, 1)
    store.close()
  })

  it('begins its own fsync once the wait passes with none begun', async () => {
    const { store, wal } = open()
    const started = performance.now()
    await wal.syncedAfter(wal.mark(), 20)
    assert.equal(wal.syncs, 1, 'it began one')
    assert.ok(performance.now() - started >= 19, 'not before the wait passed')
    store.close()
  })

  it('does not count an fsync begun before the mark, even one that completes after it', async () => {
    const { store, wal } = open()
    const earlier = wal.sync() // begun before the write below: it may miss it
    const mark = wal.mark()
    await earlier
    await wal.syncedAfter(mark, 10)
    assert.equal(wal.syncs, 2, 'a second fsync covered the mark')
    store.close()
  })

  it('waits for a covering fsync already running rather than beginning another', async () => {
    const { store, wal } = open()
    const mark = wal.mark()
    const running = wal.sync()
    await wal.syncedAfter(mark, 0)
    await running
    assert.equal(wal.syncs, 1)
    store.close()
  })

  it('resolves at once when an fsync after the mark has completed', async () => {
    const { store, wal } = open()
    const mark = wal.mark()
    wal.syncNow()
    await wal.syncedAfter(mark, 1_000)
    assert.equal(wal.syncs, 1)
    store.close()
  })

  it('rejects once the store is closed, and never fsyncs its descriptor again', async () => {
    const { store, wal } = open()
    const mark = wal.mark()
    const waited = wal.syncedAfter(mark, 20)
    store.close()
    await assert.rejects(waited, /the store is closed/, 'the wait ends, and no fsync of its own could begin')
    await assert.rejects(wal.sync(), /the store is closed/, 'its descriptor number may be another file\'s by now')
    assert.throws(() => { wal.syncNow() }, /the store is closed/)
    assert.equal(wal.syncs, 0, 'no fsync began')
  })
})
