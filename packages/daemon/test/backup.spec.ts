/**
 * `murmurctl backup` against real daemons: the file is a consistent copy of
 * the node's rows; restored onto the node it was taken from, the node writes
 * under a new peer ID, so the sequence numbers it wrote after the backup are
 * never handed out twice (a peer would see equivocation); restored into a
 * fresh data dir it is a new member holding every key. The backup a daemon
 * streams belongs to the connection that made it.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { MURMURCTL, TestCluster, waitFor, type TestNode } from './harness.js'
import { RawClient } from './raw-client.js'

/** The user rows of an SQLite file, as TestNode.userRows reads a node's. */
function fileRows (path: string): unknown[] {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return (db.prepare('SELECT key, value, wall, logical, origin, seq FROM kv_store ORDER BY key').all() as Array<{ key: string }>).filter(row => !row.key.startsWith('\u0000'))
  } finally {
    db.close()
  }
}

/** The node's change cursor now (a watch's `ready` mark). */
async function cursorNow (node: TestNode): Promise<number> {
  return (await firstEvent(node, 'now')).cursor
}

/** The first event of a subscription with `since`. */
async function firstEvent (node: TestNode, since: number | 'now'): Promise<{ type: string, cursor: number }> {
  const client = await RawClient.connect(node.socket)
  try {
    const { result: id } = await client.request('kv_subscribe', { since })
    return (await client.next(m => m.params?.subscription === id)).params.result
  } finally {
    client.destroy()
  }
}

/** Replaces `node`'s database (stopped) with `backup`, as the README says to restore. */
function restore (node: TestNode, backup: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(join(node.dataDir, `murmur.db${suffix}`), { force: true })
  copyFileSync(backup, join(node.dataDir, 'murmur.db'))
}

describe('murmurctl backup and restore', () => {
  let cluster: TestCluster
  before(() => { cluster = new TestCluster() })
  after(async () => { await cluster.close() })

  it('copies the rows; restored, a node writes under a new peer ID and no peer sees equivocation', async () => {
    const alice = await cluster.start('alice')
    const bob = await cluster.start('bob', { peers: [await alice.addr()] })
    for (let i = 1; i <= 5; i++) await alice.put(`k${i}`, `v${i}`)
    await cluster.converged([alice, bob], 5)
    const file = join(cluster.dir, 'alice.backup')
    const made = await alice.ctl(['backup', file])
    assert.equal(made.code, 0, made.stderr)
    assert.match(made.stdout, /^OK backup of \d+ bytes written to .*alice\.backup \(sha256 [0-9a-f]{64}\)/)
    assert.deepEqual(fileRows(file), alice.userRows(), 'the backup holds exactly the node\'s rows')
    const again = await alice.ctl(['backup', file])
    assert.deepEqual([again.code, again.stderr.trim()], [1, `murmurctl: ${file} already exists; choose another file, or pass --force to replace it`])
    assert.deepEqual(readdirSync(join(alice.dataDir, 'backups')), [], 'the daemon keeps no copy once murmurctl has read it')

    // written after the backup: bob holds alice's ops under sequence numbers the backup does not know
    await alice.put('k6', 'after-backup')
    await alice.put('k7', 'after-backup')
    await cluster.converged([alice, bob], 7)
    const oldId = (await alice.status()).id
    const watchedAt = await cursorNow(alice)
    await bob.stop()
    await alice.stop()

    restore(alice, file)
    // alice alone first: her first write cannot have learnt anything from bob
    await alice.start()
    const newId = (await alice.status()).id
    assert.notEqual(newId, oldId, 'a node on a backup of itself takes a new identity')
    assert.ok(existsSync(join(alice.dataDir, 'peer.key.before-restore')))
    await alice.put('k8', 'written-after-restore')
    await bob.start({ peers: [await alice.addr()] })
    const list = await cluster.converged([alice, bob], 8)
    assert.match(list, /^k6 = after-backup$/m, 'what peers held beyond the backup came back by sync')
    assert.match(list, /^k8 = written-after-restore$/m)
    // restored, she numbers her changes anew: a watcher of the original, resuming here once she has made as many
    // changes again, gets a snapshot, not a replay that would skip what her new numbers gave to other changes
    assert.ok((await cursorNow(alice)) > 2 ** 40)
    assert.equal((await firstEvent(alice, watchedAt)).type, 'snapshot')
    for (const node of [alice, bob]) {
      const { replication } = await node.status()
      assert.deepEqual(replication.equivocators, {}, `${node.name} saw no origin write two ops under one sequence number`)
    }
    // restarted, the node keeps its new identity
    await alice.stop()
    await alice.start()
    assert.equal((await alice.status()).id, newId)

    // into a fresh data dir: a new member with every key of the backup, and the rest by sync
    const carol = cluster.node('carol')
    mkdirSync(carol.dataDir, { recursive: true, mode: 0o700 })
    copyFileSync(file, join(carol.dataDir, 'murmur.db'))
    await carol.start({ peers: [await bob.addr()] })
    assert.notEqual((await carol.status()).id, oldId)
    await cluster.converged([alice, bob, carol], 8)

    // the same backup again, once alice has written under her new identity (k8): that identity's ops are not in it
    // either, so she must not number her writes on from it under that identity
    await alice.stop()
    restore(alice, file)
    await alice.start({ peers: [await bob.addr()] })
    assert.ok(![oldId, newId].includes((await alice.status()).id), 'a node on a backup older than its own identity\'s writes takes a new identity')
    await alice.put('k9', 'written-after-second-restore')
    await cluster.converged([alice, bob, carol], 9)
    for (const node of [alice, bob, carol]) {
      const { replication } = await node.status()
      assert.deepEqual(replication.equivocators, {}, `${node.name} saw no origin write two ops under one sequence number`)
    }
  })

  it('a backup is read only on the connection that made it, and removed when that connection closes', async () => {
    const node = cluster.node('alice')
    const maker = await RawClient.connect(node.socket)
    const other = await RawClient.connect(node.socket)
    try {
      const made = await maker.request('node_backup', {})
      assert.ok(made.result?.bytes > 0, JSON.stringify(made))
      const { id } = made.result
      const elsewhere = await other.request('node_backup_read', { id, offset: 0, length: 1024 })
      assert.equal(elsewhere.error?.code, -32602)
      assert.match(elsewhere.error?.message, /no backup [0-9a-f]{16} on this connection/)
      const busy = await maker.request('node_backup', {})
      assert.equal(busy.error?.data?.name, 'TooBusyError')
      const read = await maker.request('node_backup_read', { id, offset: 0, length: 16 })
      assert.equal(Buffer.from(read.result.data, 'base64').toString('latin1'), 'SQLite format 3\u0000')
      assert.equal(readdirSync(join(node.dataDir, 'backups')).length, 1)
    } finally {
      maker.destroy()
      other.destroy()
    }
    await waitFor(() => readdirSync(join(node.dataDir, 'backups')).length === 0, 'the closed connection\'s backup to be removed')
  })

  it('a backup a killed murmurd was streaming is removed at the next start, with the journal files SQLite kept beside it', async () => {
    const node = await cluster.start('kate')
    const maker = await RawClient.connect(node.socket)
    try {
      assert.ok((await maker.request('node_backup', {})).result?.bytes > 0)
      await node.stop('SIGKILL') // while the backup is still being streamed
    } finally {
      maker.destroy()
    }
    const dir = join(node.dataDir, 'backups')
    const [made] = readdirSync(dir)
    assert.ok(made?.endsWith('.db'), `the backup is left: ${readdirSync(dir).join(', ')}`)
    for (const suffix of ['-wal', '-shm']) writeFileSync(join(dir, made + suffix), '')
    await node.start()
    assert.deepEqual(readdirSync(dir), [], 'nothing of the backup is left')
  })

  it('interrupted (Ctrl-C), murmurctl backup leaves no .part behind', async () => {
    const node = await cluster.start('gina')
    const file = join(cluster.dir, 'interrupted.backup')
    const daemon = node.process?.pid as number
    // a daemon that does not answer holds the backup at its start for as long as the test needs
    process.kill(daemon, 'SIGSTOP')
    try {
      const ctl = spawn(process.execPath, [MURMURCTL, '--socket', node.socket, 'backup', file], { stdio: 'ignore' })
      const exited = new Promise<NodeJS.Signals | null>(resolve => ctl.on('exit', (_code, signal) => resolve(signal)))
      await waitFor(() => existsSync(`${file}.part`), 'murmurctl to start writing the .part')
      ctl.kill('SIGINT')
      assert.equal(await exited, 'SIGINT', 'murmurctl ends as Ctrl-C ends it')
      assert.deepEqual([existsSync(`${file}.part`), existsSync(file)], [false, false])
    } finally {
      process.kill(daemon, 'SIGCONT')
    }
    const made = await node.ctl(['backup', file])
    assert.equal(made.code, 0, made.stderr)
  })

  it('refuses a directory for the file, even with --force, in one line and leaving no .part behind', async () => {
    const node = await cluster.start('erin')
    const dir = join(cluster.dir, 'a-directory')
    mkdirSync(dir)
    const refused = await node.ctl(['backup', '--force', dir])
    assert.deepEqual([refused.code, refused.stderr.trim()], [1, `murmurctl: ${dir} is a directory; give the backup a file name`])
    assert.equal(existsSync(`${dir}.part`), false)
    const made = await node.ctl(['backup', join(cluster.dir, 'after.backup')])
    assert.equal(made.code, 0, made.stderr)
  })
})
