/**
 * A watch that always resumes, on real binaries: `murmurctl watch` keeps
 * running while murmurd is killed and restarted under it, says so on stderr,
 * and comes back with every change made meanwhile (here and by a peer), none
 * twice; a cursor murmurd cannot replay from gets a snapshot instead (a
 * data file rebuilt with its rows numbered anew too); one subscription may
 * name several prefixes. Collection does not take replays away from keys
 * that stay: a row collected as a newer write replaces it is one change.
 */
import assert from 'node:assert/strict'
import { renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { TestCluster, usePair, waitFor } from './harness.js'
import { startWatch } from './watch-client.js'
import { RawClient } from './raw-client.js'

/**
 * Copies the SQLite file `from` to `to` with every row numbered anew, as a
 * rebuild that leaves rowids out does (a script's `INSERT … SELECT`, tools
 * that copy tables row by row): the schema, then each table's rows in order.
 * (The sqlite3 shell's `.dump` would too, but it cannot copy murmur's file at
 * all: it cuts murmur's own keys at their leading U+0000.)
 */
function rebuildWithoutRowids (from: string, to: string): void {
  const db = new Database(to)
  try {
    db.prepare('ATTACH ? AS old').run(from)
    const objects = db.prepare<[], { type: string, name: string, sql: string }>("SELECT type, name, sql FROM old.sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'").all()
    const tables = objects.filter(o => o.type === 'table')
    for (const { sql } of tables) db.exec(sql)
    // the WHERE turns off SQLite's transfer optimisation, which would copy the rowids
    for (const { name } of tables) db.exec(`INSERT INTO main."${name}" SELECT * FROM old."${name}" WHERE 1`)
    for (const { sql } of objects.filter(o => o.type !== 'table')) db.exec(sql)
  } finally {
    db.close()
  }
}

describe('murmurctl watch resumes', () => {
  const pair = usePair()

  it('across a kill -9 and restart of murmurd: every change once, none missed, in cursor order', async () => {
    const { alice, bob } = pair
    const watch = startWatch(alice, ['--prefix', 'app/', '--prefix', 'svc/'])
    try {
      await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watch to be ready')
      await alice.put('app/1', 'a1')
      await alice.put('other/x', 'not watched')
      await bob.put('svc/1', 'from bob')
      await waitFor(() => watch.events().filter(e => e.type === 'put').length === 2, 'two live events')
      assert.equal(await alice.stop('SIGKILL'), null)
      await waitFor(() => watch.stderr().includes('went away'), 'the watch to notice')
      // meanwhile: bob writes, and after the restart alice writes before the watch is back
      await bob.put('svc/2', 'while alice was down')
      await bob.put('app/2', 'while alice was down')
      await alice.start({ peers: [await bob.addr()] })
      await alice.put('app/3', 'after restart')
      await alice.ctl(['del', 'app/1'])
      await waitFor(() => watch.stderr().includes('reached murmurd'), 'the watch to reconnect')
      await waitFor(() => new Set(watch.events().filter(e => e.key !== undefined).map(e => e.key)).size === 5, 'every key on the watch')
      await alice.put('svc/3', 'live again')
      await waitFor(() => watch.events().some(e => e.key === 'svc/3'), 'a live event after the resume')
      const changes = watch.events().filter(e => e.type === 'put' || e.type === 'delete')
      const cursors = changes.map(e => e.cursor as number)
      assert.deepEqual(cursors, [...cursors].sort((a, b) => a - b), 'in cursor order')
      assert.equal(new Set(cursors).size, cursors.length, 'no change twice')
      assert.ok(!changes.some(e => e.key === 'other/x'), 'only the watched prefixes')
      // replayed changes come in their latest state: app/1 put before the kill, deleted after
      assert.deepEqual(changes.map(e => `${e.type} ${e.key ?? ''}`).sort(), [
        'delete app/1', 'put app/1', 'put app/2', 'put app/3', 'put svc/1', 'put svc/2', 'put svc/3'
      ])
      assert.match(watch.stderr(), /went away; trying again with backoff/)
      assert.equal(watch.events().filter(e => e.type === 'snapshot').length, 0, 'resumed from its cursor, no snapshot')
      // status names the latest cursor (here the last change, alice's live put) and the floor a watch resumes from
      const { changes: marks } = (await alice.status()).replication
      assert.equal(marks.cursor, changes.at(-1)?.cursor)
      assert.ok(marks.floor >= 0 && marks.floor <= marks.cursor, JSON.stringify(marks))
      assert.match((await alice.ctl(['status'])).stdout, new RegExp(`changes:\\s+cursor ${marks.cursor as number} \\(murmurctl watch --since <cursor> replays from ${marks.floor as number} on`))
    } finally {
      assert.equal(await watch.stop(), 0)
    }
  })

  it('a cursor it cannot replay from gets the current state as a snapshot, then live events', async () => {
    const { alice } = pair
    const watch = startWatch(alice, ['--prefix', 'svc/', '--since', '999999999'])
    try {
      await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watch to be ready')
      const [snapshot] = watch.events()
      assert.equal(snapshot?.type, 'snapshot')
      assert.deepEqual(snapshot?.entries?.map(e => e.key), ['svc/1', 'svc/2', 'svc/3'])
      await alice.put('svc/4', 'after the snapshot')
      await waitFor(() => watch.events().some(e => e.key === 'svc/4'), 'a live event')
    } finally {
      assert.equal(await watch.stop(), 0)
    }
  })

  it('after the machine went down under murmurd (its file still open by a run of another boot), a resuming watch gets a snapshot, not a replay by cursors that may be given again', async () => {
    const { alice } = pair
    const path = join(alice.dataDir, 'murmur.db')
    const openBoot = (): unknown => {
      const db = new Database(path, { readonly: true })
      try { return db.prepare("SELECT value FROM meta WHERE name = 'open_boot'").pluck().get() } finally { db.close() }
    }
    await alice.put('boot/1', 'one')
    const cursor = (await alice.status()).replication.changes.cursor as number
    assert.equal(await alice.stop('SIGKILL'), null)
    const boot = openBoot()
    assert.ok(typeof boot === 'string' && boot !== '', `a running node notes its boot: ${String(boot)}`)
    // what a power loss leaves: the file open by a run of the boot before (its last told changes may be gone from it)
    const db = new Database(path)
    db.prepare("UPDATE meta SET value = 'a boot before this one' WHERE name = 'open_boot'").run()
    db.close()
    await alice.start()
    assert.match(alice.stderr, /open when the machine went down: change cursors start anew/)
    const marks = (await alice.status()).replication.changes
    assert.ok(marks.floor > cursor && marks.cursor >= marks.floor, `numbered anew above every cursor given: ${JSON.stringify(marks)} after ${cursor}`)
    const watch = startWatch(alice, ['--prefix', 'boot/', '--since', String(cursor)])
    try {
      await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watch to be ready')
      assert.deepEqual(watch.events().map(e => e.type), ['snapshot', 'ready'])
      assert.deepEqual(watch.events()[0]?.entries?.map(e => `${e.key} ${String(e.value)}`), ['boot/1 one'])
    } finally {
      assert.equal(await watch.stop(), 0)
    }
    const before = (await alice.status()).replication.changes
    assert.equal(await alice.stop(), 0)
    assert.equal(openBoot(), '', 'a node that stops says so: the next start, in any boot, numbers on')
    await alice.start()
    assert.deepEqual((await alice.status()).replication.changes, before, 'numbering goes on after a stop')
  })

  it('a data file rebuilt with every row numbered anew gets a resuming watch a snapshot, not a replay by numbers that now name other changes', async () => {
    const { alice } = pair
    const path = join(alice.dataDir, 'murmur.db')
    const records = (): number => {
      const db = new Database(path, { readonly: true })
      try { return db.prepare<[], number>('SELECT count(*) FROM kv_store WHERE key < char(1)').pluck().get() ?? 0 } finally { db.close() }
    }
    // murmur's own records (attestations: bob's reach alice too) are what tells a rebuilt file
    await waitFor(() => records() > 0, 'an attestation in alice\'s file', 30_000)
    await alice.put('dump/1', 'one')
    await alice.put('dump/2', 'two')
    const client = await RawClient.connect(alice.socket)
    let cursor: number
    try {
      const id = (await client.request('kv_subscribe', { since: 'now' })).result
      cursor = (await client.next(m => m.params?.subscription === id && m.params.result.type === 'ready')).params.result.cursor as number
    } finally {
      client.socket.destroy()
    }
    await alice.put('dump/1', 'one again')
    assert.equal(await alice.stop(), 0)
    rebuildWithoutRowids(path, `${path}.rebuilt`)
    for (const file of [path, `${path}-wal`, `${path}-shm`]) rmSync(file, { force: true })
    renameSync(`${path}.rebuilt`, path)
    await alice.start()
    const watch = startWatch(alice, ['--prefix', 'dump/', '--since', String(cursor)])
    try {
      await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watch to be ready')
      const [snapshot, ...rest] = watch.events()
      assert.equal(snapshot?.type, 'snapshot', JSON.stringify(watch.events()))
      assert.deepEqual(snapshot?.entries?.map(e => `${e.key} ${String(e.value)}`), ['dump/1 one again', 'dump/2 two'])
      assert.deepEqual(rest.map(e => e.type), ['ready'])
      await alice.put('dump/3', 'after')
      await waitFor(() => watch.events().some(e => e.key === 'dump/3' && e.type === 'put'), 'a live event')
    } finally {
      assert.equal(await watch.stop(), 0)
    }
  })

  it('kv_subscribe with since replays what changed after it under any of its prefixes, then ready', async () => {
    const { alice } = pair
    const client = await RawClient.connect(alice.socket)
    try {
      const before = (await client.request('kv_subscribe', { since: 'now' })).result
      const ready = await client.next(m => m.params?.subscription === before && m.params.result.type === 'ready')
      const cursor = ready.params.result.cursor as number
      await alice.put('a/1', '1')
      await alice.put('b/1', '1')
      await alice.put('c/1', '1')
      const id = (await client.request('kv_subscribe', { prefixes: ['a/', 'c/'], since: cursor })).result
      const done = await client.next(m => m.params?.subscription === id && m.params.result.type === 'ready')
      const replayed = client.messages.filter(m => m.params?.subscription === id && m.params.result.type === 'put').map(m => m.params.result)
      assert.deepEqual(replayed.map(r => r.key), ['a/1', 'c/1'])
      assert.equal(done.params.result.cursor, replayed[1].cursor, 'ready carries the latest cursor: c/1 was the last change')
      const bad = await client.request('kv_subscribe', { since: -1 })
      assert.equal(bad.error?.code, -32602)
    } finally {
      client.socket.destroy()
    }
  })
})

describe('murmurctl watch resumes once collection has passed the rows', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('an overwrite of a row every member holds is one change, replayed to a watch resuming from before it (no snapshot)', async () => {
    const alice = await cluster.start('alice', { args: ['--tombstone-grace', '1000'] })
    const id = (await alice.status()).id
    await alice.put('gc/a', 'one')
    await alice.put('gc/b', 'one')
    const { seq } = (await alice.json<{ version: { seq: number } }>(['get', 'gc/b'])).version
    // alice attests and collects alone: her floor passes both rows, which are then collected as they lose
    await waitFor(async () => ((await alice.status()).replication.floors[id] ?? 0) >= seq, 'alice\'s floor to pass her writes', 30_000)
    const { cursor } = (await alice.status()).replication.changes
    await alice.put('gc/a', 'two')
    const marks = (await alice.status()).replication.changes
    assert.equal(marks.cursor, cursor + 1, 'one change')
    assert.ok(marks.floor <= cursor, `the floor stays behind the watcher's cursor: ${JSON.stringify(marks)} after ${cursor}`)
    const watch = startWatch(alice, ['--prefix', 'gc/', '--since', String(cursor)])
    try {
      await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watch to be ready')
      assert.deepEqual(watch.events().map(e => `${e.type} ${e.key ?? ''} ${String(e.value ?? '')}`.trim()), ['put gc/a two', 'ready'])
    } finally {
      assert.equal(await watch.stop(), 0)
    }
  })
})
