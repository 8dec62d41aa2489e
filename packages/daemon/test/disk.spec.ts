/**
 * Disk and data: a full disk refuses writes with a clear error while murmurd
 * keeps serving reads, damages nothing, and takes writes again once space
 * returns; a murmur.db that is not ours, or is damaged, stops murmurd at
 * start with one line and exit code 1, and is left byte for byte as it was.
 */
import assert from 'node:assert/strict'
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { SCHEMA_VERSION, SqliteStore, attestationKey, opDigest } from '@murmur/core'
import { FULL_DISK_SKIP, fill, fillUnder, smallDisk } from './full-disk.js'
import { MURMURD, TestCluster, TestNode, logged, run } from './harness.js'
import { RawClient } from './raw-client.js'

const DB = 'murmur.db'

const murmurd = async (dataDir: string): Promise<Awaited<ReturnType<typeof run>>> =>
  await run(process.execPath, [MURMURD, '--name', 'disk', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht'], { timeoutMs: 20_000 })

/** The lines murmurd wrote for a person (its log lines are JSON). */
const humanLines = (stderr: string): string[] => stderr.split('\n').filter(line => line !== '' && !line.startsWith('{'))

describe('a full disk', { skip: FULL_DISK_SKIP }, () => {
  const cluster = new TestCluster()
  let mount: string
  let unmount = (): void => {}
  let node: TestNode
  const stored = new Map<string, string>()

  before(async () => {
    ({ mount, unmount } = smallDisk(cluster))
    node = new TestNode('full', join(mount, 'full'))
    cluster.nodes.set('full', node)
    await node.start()
    for (let i = 0; i < 20; i++) {
      const value = `value ${i} `.repeat(1000)
      await node.put(`before:${i}`, value)
      stored.set(`before:${i}`, value)
    }
  })
  after(async () => {
    await node?.stop('SIGKILL')
    unmount()
    await cluster.close()
  })

  it('refuses puts with StorageError 1001 "the disk is full", keeps serving reads, and resumes once space returns', async () => {
    const filler = fill(mount)
    const client = await RawClient.connect(node.socket)
    // the WAL may still have room for a little: write until the disk refuses
    let refusal
    for (let i = 0; i < 50 && refusal == null; i++) {
      const value = `after ${i} `.repeat(10_000)
      const answer = await client.request('kv_put', { key: `during:${i}`, value })
      if (answer.error != null) refusal = answer.error
      else stored.set(`during:${i}`, value)
    }
    assert.ok(refusal != null, 'a put was refused')
    assert.equal(refusal.code, 1001)
    assert.equal(refusal.data.name, 'StorageError')
    assert.equal(refusal.data.sqlite, 'SQLITE_FULL')
    assert.match(refusal.message, /^write not stored: the disk is full$/)

    const cli = await node.ctl(['put', 'cli:key', '-'], 'x'.repeat(200_000))
    assert.equal(cli.code, 1)
    assert.match(cli.stderr, /^murmurctl: write not stored: the disk is full/)
    assert.equal(cli.stderr.trim().split('\n').length, 1)
    const del = await node.ctl(['del', 'before:0'])
    assert.equal(del.code, 1, 'a delete needs room too')

    // small writes may still find room in the WAL: fill it until even they are refused, then a probe must say so
    for (let i = 0; i < 200; i++) {
      if ((await client.request('kv_put', { key: `tiny:${i}`, value: 'x' })).error != null) break
      stored.set(`tiny:${i}`, 'x')
    }
    assert.equal((await client.request('kv_put', { key: 'tiny:last', value: 'x' })).error?.code, 1001, 'even a tiny put is refused now')
    const sick = await node.ctl(['health'])
    assert.equal(sick.code, 1, sick.stdout + sick.stderr)
    assert.match(sick.stdout, /^UNHEALTHY: the database does not take a write \(.*full.*\)$/m)

    // reads, lists and status go on
    assert.equal((await node.ctl(['get', 'before:3'])).stdout, stored.get('before:3') + '\n')
    const listed = await client.request('kv_list', {})
    assert.deepEqual(new Map(listed.result.items.map((e: any) => [e.key, e.value])), stored)
    assert.equal((await node.ctl(['status'])).code, 0)
    await logged(node, /"msg":"write failed"/, 'the refusal')

    rmSync(filler)
    const resumed = await client.request('kv_put', { key: 'after:space', value: 'back' })
    assert.ok(resumed.result?.version, JSON.stringify(resumed))
    stored.set('after:space', 'back')
    assert.equal((await node.ctl(['put', 'cli:key', 'y'])).code, 0)
    stored.set('cli:key', 'y')
    assert.equal((await node.ctl(['health'])).code, 0, 'healthy again once space returns')
    client.destroy()
    assert.equal(node.process?.exitCode, null, 'murmurd stayed up throughout')

    // nothing already stored was damaged
    assert.equal(await node.stop(), 0)
    const db = new Database(join(node.dataDir, DB), { readonly: true })
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
      const rows = db.prepare('SELECT key, value FROM kv_store WHERE value IS NOT NULL AND key >= char(1)').all() as Array<{ key: string, value: Buffer }>
      assert.deepEqual(new Map(rows.map(r => [r.key, r.value.toString()])), stored)
    } finally {
      db.close()
    }
  })
})

describe('a stop on a full disk', { skip: FULL_DISK_SKIP }, () => {
  const cluster = new TestCluster()
  let mount: string
  let unmount = (): void => {}
  let node: TestNode

  before(async () => {
    ({ mount, unmount } = smallDisk(cluster))
    node = new TestNode('stop', join(mount, 'stop'))
    cluster.nodes.set('stop', node)
    await node.start()
  })
  after(async () => {
    await node?.stop('SIGKILL')
    unmount()
    await cluster.close()
  })

  it('is a clean stop: exit 0, no stack trace, and the node starts again once space returns', async () => {
    await node.put('kept', 'value')
    // until even a tiny write finds no room in the WAL
    const filler = await fillUnder(node, mount)
    assert.equal(await node.stop(), 0, node.stderr.slice(-2000))
    assert.doesNotMatch(node.stderr, /SqliteError|\n\s+at /, 'no stack trace')
    assert.equal(existsSync(node.socket), false, 'the socket is removed')
    rmSync(filler)
    await node.start()
    assert.equal((await node.ctl(['get', 'kept'])).stdout, 'value\n')
  })
})

describe('a murmur.db that is not ours or is damaged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-disk-'))
  after(() => { rmSync(dir, { recursive: true, force: true }) })

  /** Starts murmurd on a data dir holding `murmur.db`; checks it exits 1 with one line and leaves the file alone. */
  async function refused (name: string, make: (path: string) => void, message: RegExp): Promise<string> {
    const dataDir = join(dir, name)
    mkdirSync(dataDir, { mode: 0o700 })
    make(join(dataDir, DB))
    const before = readFileSync(join(dataDir, DB))
    const result = await murmurd(dataDir)
    assert.equal(result.code, 1, result.stderr)
    const lines = humanLines(result.stderr)
    assert.equal(lines.length, 1, result.stderr)
    assert.match(lines[0] as string, message)
    assert.ok(readFileSync(join(dataDir, DB)).equals(before), 'murmur.db is byte-identical')
    assert.deepEqual(readdirSync(dataDir).filter(f => f.startsWith(DB)), [DB], 'no WAL or shared-memory file is left behind')
    return lines[0] as string
  }

  it('refuses a text file named murmur.db', async () => {
    await refused('text', path => { writeFileSync(path, 'these are my notes, not a database\n') }, /^murmurd: .*murmur\.db is not a murmur database: not an SQLite file$/)
  })

  it('refuses another application\'s SQLite database', async () => {
    await refused('foreign', path => {
      const db = new Database(path)
      db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')")
      db.close()
    }, /^murmurd: .*murmur\.db is not a murmur database: it holds users$/)
  })

  it('refuses its own database with bytes overwritten in the middle of a page', async () => {
    const message = await refused('damaged', writeDamagedDatabase,
      /^murmurd: .*murmur\.db is damaged: .+; restore it from a backup, or move it away and let the node resync from its peers$/)
    assert.doesNotMatch(message, /\*\*\*/, 'SQLite\'s banner line is left out')
    console.log(message)
  })

  it('refuses its own database found damaged after a kill -9, leaving it and the WAL the crash left byte for byte as they were', async () => {
    const dataDir = join(dir, 'crashed')
    mkdirSync(dataDir, { mode: 0o700 })
    const path = join(dataDir, DB)
    writeDatabase(path) // 500 keys in the file itself, then murmurd's last writes left in the WAL by a kill -9
    const node = new TestNode('crashed', dataDir)
    await node.start()
    for (let i = 0; i < 5; i++) await node.put(`late:${i}`, `value ${i}`)
    await node.stop('SIGKILL')
    assert.ok(statSync(`${path}-wal`).size > 0, 'the WAL holds the last writes')
    damagePage(path)
    const before = [readFileSync(path), readFileSync(`${path}-wal`)]
    const result = await murmurd(dataDir)
    assert.equal(result.code, 1, result.stderr)
    assert.match(humanLines(result.stderr)[0] as string, /^murmurd: .*murmur\.db is damaged: /)
    assert.ok(readFileSync(path).equals(before[0] as Buffer), 'murmur.db is byte-identical: nothing of the WAL was moved into it')
    assert.ok(readFileSync(`${path}-wal`).equals(before[1] as Buffer), 'the WAL is left as the crash left it')
  })

  it('refuses its own database copied through text that cut a record\'s key at its U+0000 (the sqlite3 shell\'s .dump), unchanged', async () => {
    await refused('cut', path => {
      const store = SqliteStore.open(path)
      for (const [seq, key] of ['cfg', attestationKey('12D3KooWGzh9kKfVJ8Zi6gE1kUPRTtWhqZPS3ut5AQuyKc2rbSmx')].entries()) {
        const op = { key, value: Buffer.from('v'), wall: 1_760_000_000_000 + seq, logical: 0, origin: '12D3KooWGzh9kKfVJ8Zi6gE1kUPRTtWhqZPS3ut5AQuyKc2rbSmx', seq: seq + 1 }
        store.put(op, opDigest(op))
      }
      store.close()
      // as a rebuild from .dump leaves it: the record's key written as '', the file in rollback-journal mode
      const db = new Database(path)
      db.pragma('journal_mode = DELETE')
      assert.equal(db.prepare("UPDATE kv_store SET key = '' WHERE key < char(1) AND key <> ''").run().changes, 1)
      db.close()
    }, /^murmurd: .*murmur\.db is damaged: kv_store holds a row with an empty key, one of murmur's own records cut at its leading U\+0000 \(a copy made with the sqlite3 shell's \.dump\?\); restore it from a backup, or move it away and let the node resync from its peers$/)
  })

  it('refuses its own database from a newer murmur, and one older than it can upgrade, saying what to do', async () => {
    const at = (version: number) => (path: string): void => {
      SqliteStore.open(path).close()
      const db = new Database(path)
      db.prepare("UPDATE meta SET value = ? WHERE name = 'schema_version'").run(version)
      db.close()
    }
    await refused('newer', at(SCHEMA_VERSION + 1), new RegExp(`^murmurd: .*murmur\\.db has schema version ${SCHEMA_VERSION + 1}; this murmur supports ${SCHEMA_VERSION}: a newer murmur wrote it; run that version or a later one`))
    await refused('older', at(3), new RegExp(`^murmurd: .*murmur\\.db has schema version 3; this murmur supports ${SCHEMA_VERSION} and upgrades files from version 4: move this one away`))
  })

  it('takes an empty file as a new database', async () => {
    const dataDir = join(dir, 'empty')
    mkdirSync(dataDir, { mode: 0o700 })
    writeFileSync(join(dataDir, DB), '')
    const store = SqliteStore.open(join(dataDir, DB))
    assert.deepEqual(store.counts(), { keys: 0, tombstones: 0 })
    store.close()
  })
})

/** Our database with 500 keys, then 256 bytes of 0xFF over the middle of a kv_store leaf page. */
function writeDamagedDatabase (path: string): void {
  writeDatabase(path)
  damagePage(path)
}

/** Our database with 500 keys, closed cleanly (all in the file, no WAL). */
function writeDatabase (path: string): void {
  const store = SqliteStore.open(path)
  store.transaction(() => {
    for (let i = 0; i < 500; i++) {
      const op = { key: `key:${String(i).padStart(4, '0')}`, value: Buffer.from(`v${i}`), wall: 1_760_000_000_000 + i, logical: 0, origin: '12D3KooWGzh9kKfVJ8Zi6gE1kUPRTtWhqZPS3ut5AQuyKc2rbSmx', seq: i + 1 }
      store.put(op, opDigest(op))
    }
  })
  store.close()
  assert.equal(existsSync(`${path}-wal`), false, 'closed cleanly: the WAL is checkpointed away')
}

/** 256 bytes of 0xFF over the middle of a kv_store leaf page of `path`, found in a copy (the file and its WAL are left alone). */
function damagePage (path: string): void {
  const copy = `${path}.look`
  copyFileSync(path, copy)
  const db = new Database(copy, { readonly: true })
  const pageSize = db.pragma('page_size', { simple: true }) as number
  const leaves = db.prepare("SELECT pageno FROM dbstat WHERE name = 'kv_store' AND pagetype = 'leaf' ORDER BY pageno").pluck().all() as number[]
  db.close()
  for (const end of ['', '-wal', '-shm']) rmSync(copy + end, { force: true })
  assert.ok(leaves.length >= 3, `${leaves.length} leaf pages`)
  const page = leaves[Math.floor(leaves.length / 2)] as number
  const fd = openSync(path, 'r+')
  writeSync(fd, Buffer.alloc(256, 0xff), 0, 256, (page - 1) * pageSize + pageSize / 2 - 128)
  closeSync(fd)
}
