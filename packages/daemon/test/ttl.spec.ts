/**
 * TTL and presence on real binaries: a value written with `--ttl` is read on
 * every node until its expiry and as absent after, watch says `expire`, an
 * offline node agrees when it comes back, and an older op arriving later
 * brings nothing back; `--keepalive` keeps a key while its node runs, lets it
 * vanish within the TTL of a SIGKILL, and resumes when the node restarts; a
 * watcher hears each put and expiry of it (a refresh after an expiry too), not
 * each refresh, and its history keeps no refresh; bad
 * TTLs are refused with exit 2 (InvalidTtlError over RPC).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { MURMURCTL, usePair, waitFor, type TestNode } from './harness.js'
import { RawClient } from './raw-client.js'
import { startWatch } from './watch-client.js'

/** Every kv_store column of the user rows, read from the file: what replicas must hold byte for byte. */
function storeRows (node: TestNode): unknown[] {
  const db = new Database(join(node.dataDir, 'murmur.db'), { readonly: true, fileMustExist: true })
  try {
    return db.prepare("SELECT key, value, wall, logical, origin, seq, sig, digest, type, expires, refresh FROM kv_store WHERE key >= CAST(x'01' AS TEXT) ORDER BY key").all()
  } finally {
    db.close()
  }
}

async function present (node: TestNode, key: string): Promise<boolean> {
  const result = await node.ctl(['get', key])
  if (result.code !== 0 && result.code !== 4) throw new Error(`get ${key} exited ${result.code}: ${result.stderr}`)
  return result.code === 0
}

async function versionOf (node: TestNode, key: string): Promise<{ seq: number, wall: number }> {
  return (await node.json(['get', key])).version
}

describe('put --ttl', () => {
  const pair = usePair()

  it('is read on both nodes until its expiry and as absent after; watch says expire, live and resumed', async () => {
    const { alice, bob } = pair
    const watch = startWatch(bob, ['--prefix', 'lease/'])
    try {
      await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watch to be ready')
      // 4 s: the three reads below are murmurctl runs, each up to a second on a loaded machine, and must come before the expiry
      const put = await alice.ctl(['put', '--ttl', '4s', 'lease/a', 'held'])
      assert.equal(put.code, 0, put.stderr)
      await waitFor(async () => await present(bob, 'lease/a'), 'bob to get the key')
      const entry = await bob.json(['get', 'lease/a'])
      assert.equal(entry.value, 'held')
      assert.equal(entry.expires, entry.version.wall + 4_000, 'the expiry is the write\'s stamp plus the TTL')
      assert.match((await bob.ctl(['get', '--meta', 'lease/a'])).stdout, /expires: +\d{4}-.*\(\d+ ms\)/)
      const putEvent = await waitFor(() => watch.events().find(e => e.type === 'put' && e.key === 'lease/a'), 'the put on the watch')
      assert.equal(putEvent.expires, entry.expires)
      await waitFor(async () => !(await present(alice, 'lease/a')) && !(await present(bob, 'lease/a')), 'the key to expire on both', 8_000)
      assert.ok(Date.now() >= entry.expires, 'not before its expiry')
      assert.equal((await bob.list()).includes('lease/a'), false)
      assert.equal((await alice.list()).includes('lease/a'), false)
      const expired = await waitFor(() => watch.events().find(e => e.type === 'expire' && e.key === 'lease/a'), 'expire on the watch', 5_000)
      assert.ok((expired.cursor as number) > (putEvent.cursor as number))
      // a watch resuming from before the expiry replays it
      const resumed = startWatch(bob, ['--prefix', 'lease/', '--since', String((putEvent.cursor as number) - 1)])
      try {
        await waitFor(() => resumed.events().some(e => e.type === 'ready'), 'the resumed watch to be ready')
        assert.deepEqual(resumed.events().filter(e => e.key === 'lease/a').map(e => e.type), ['expire'])
      } finally {
        assert.equal(await resumed.stop(), 0)
      }
      assert.deepEqual(storeRows(bob), storeRows(alice), 'the expired row stays, the same on both')
      // expired is absent for a conditional write too
      const again = await bob.ctl(['put', '--if-absent', 'lease/a', 'bob takes it'])
      assert.equal(again.code, 0, again.stderr)
    } finally {
      assert.equal(await watch.stop(), 0)
    }
  })

  it('murmurctl template renders an expiring key, and renders again without it when it expires', async () => {
    const { alice, cluster } = pair
    const template = join(cluster.dir, 'svc.liquid')
    const out = join(cluster.dir, 'svc.txt')
    writeFileSync(template, '{% for e in entries %}{{ e.key }}={{ e.value }}\n{% endfor %}end\n')
    const child = spawn(process.execPath, [MURMURCTL, '--socket', alice.socket, 'template', '--prefix', 'svc/', '--template', template, '--out', out], { stdio: 'ignore' })
    const exited = new Promise(resolve => child.on('exit', resolve))
    const rendered = (): string => existsSync(out) ? readFileSync(out, 'utf8') : ''
    try {
      await alice.put('svc/stays', 'a')
      assert.equal((await alice.ctl(['put', '--ttl', '2s', 'svc/leaves', 'b'])).code, 0)
      await waitFor(() => rendered().includes('svc/leaves=b'), 'the expiring key rendered')
      await waitFor(() => rendered() === 'svc/stays=a\nend\n', 'the file rendered again without it', 8_000)
    } finally {
      child.kill('SIGTERM')
      await exited
    }
  })

  it('export keeps the expiry and import writes what is left of the TTL; a line already expired is left out', async () => {
    const { alice, cluster } = pair
    assert.equal((await alice.ctl(['put', '--ttl', '60s', 'exp/lease', 'x'])).code, 0)
    const exported = await alice.ctl(['export', '--prefix', 'exp/'])
    const line = JSON.parse(exported.stdout.trim()) as { key: string, expires: number }
    const original = (await alice.json(['get', 'exp/lease'])).expires as number
    assert.equal(line.expires, original)
    const file = join(cluster.dir, 'exp.ndjson')
    writeFileSync(file, JSON.stringify({ ...line, key: 'exp/copy' }) + '\n' + JSON.stringify({ ...line, key: 'exp/gone', expires: Date.now() - 1 }) + '\n')
    const imported = await alice.ctl(['import', file])
    assert.equal(imported.code, 0, imported.stderr)
    const copy = await alice.json(['get', 'exp/copy'])
    assert.ok(Math.abs(copy.expires - original) < 5_000, `the copy expires when the original does (${copy.expires} vs ${original})`)
    assert.equal(await present(alice, 'exp/gone'), false)
  })

  it('refuses bad TTLs: exit 2 with what to fix, InvalidTtlError (1010) over RPC', async () => {
    const { alice } = pair
    for (const ttl of ['0', '0s', '-5s', 'abc', '10', '1.5s', '366d']) {
      const result = await alice.ctl(['put', '--ttl', ttl, 'bad', 'v'])
      assert.equal(result.code, 2, `--ttl ${ttl}: ${result.stderr}`)
      assert.match(result.stderr, /expected a TTL such as 500ms, 30s, 10m or 24h \(1ms to 365d\)/)
    }
    const noTtl = await alice.ctl(['put', '--keepalive', 'bad', 'v'])
    assert.equal(noTtl.code, 2)
    assert.match(noTtl.stderr, /--keepalive needs --ttl/)
    const short = await alice.ctl(['put', '--ttl', '1s', '--keepalive', 'bad', 'v'])
    assert.equal(short.code, 2)
    assert.match(short.stderr, /a keepalive's TTL must be at least 2000 ms/)
    const client = await RawClient.connect(alice.socket)
    try {
      for (const ttlMs of [0, -1, 1.5, 365 * 86_400_000 + 1, 'soon']) {
        const answer = await client.request('kv_put', { key: 'bad', value: 'v', ttlMs })
        if (typeof ttlMs === 'string') {
          assert.equal(answer.error?.data?.name, 'InvalidParamsError', JSON.stringify(answer))
          continue
        }
        assert.equal(answer.error?.code, 1010, JSON.stringify(answer))
        assert.equal(answer.error?.data?.name, 'InvalidTtlError')
        assert.match(answer.error?.message, /ttlMs must be a whole number of milliseconds from 1 to/)
      }
    } finally {
      client.socket.destroy()
    }
    assert.equal(await present(alice, 'bad'), false, 'nothing was written')
  })

  it('an offline node agrees when it comes back, and an older op arriving after the expiry brings nothing back', async () => {
    const { alice, bob } = pair
    const carol = await pair.cluster.start('carol') // on her own: no peers yet
    await carol.put('k', 'older, from carol')
    await waitFor(async () => (await carol.json(['get', 'k'])).version.wall < Date.now(), 'a later millisecond')
    assert.equal((await alice.ctl(['put', '--ttl', '2s', 'k', 'newer, expiring'])).code, 0)
    await waitFor(async () => await present(bob, 'k'), 'bob to get the key')
    assert.equal(await bob.stop(), 0)
    await waitFor(async () => !(await present(alice, 'k')), 'the key to expire on alice', 6_000)
    await bob.start({ peers: [await alice.addr()] })
    assert.equal(await present(bob, 'k'), false, 'bob reads it absent from his own clock at once')
    // carol's older write reaches both
    assert.equal((await carol.ctl(['connect', await bob.addr()])).code, 0)
    await waitFor(() => storeRows(carol).length > 0 && JSON.stringify(storeRows(carol)) === JSON.stringify(storeRows(bob)), 'carol and bob to converge')
    for (const node of [alice, bob, carol]) assert.equal(await present(node, 'k'), false, `${node.name}: still absent`)
    await waitFor(() => JSON.stringify(storeRows(alice)) === JSON.stringify(storeRows(bob)), 'alice and bob to converge')
    assert.equal((storeRows(bob) as Array<{ key: string, origin: string }>).find(row => row.key === 'k')?.origin, (await alice.status()).id, 'alice\'s expired write is the row')
    assert.equal(await carol.stop(), 0)
  })
})

describe('put --ttl --keepalive', () => {
  const pair = usePair()

  it('stays while alice runs, vanishes within the TTL of a SIGKILL, comes back when she restarts; del and put end it', async () => {
    const { alice, bob } = pair
    const TTL = 3_000
    assert.equal((await alice.ctl(['put', '--ttl', '3s', '--keepalive', 'presence/alice', 'v1.2.3'])).code, 0)
    await waitFor(async () => await present(bob, 'presence/alice'), 'bob to see alice')
    assert.deepEqual((await alice.status()).keepalives, [{ key: 'presence/alice', ttlMs: TTL }])
    assert.match((await alice.ctl(['status'])).stdout, /keepalives: +presence\/alice \(ttl 3 s\)/)
    const first = await versionOf(bob, 'presence/alice')
    // two TTLs later it is still there, written again meanwhile
    const until = Date.now() + 2 * TTL
    while (Date.now() < until) {
      assert.equal(await present(bob, 'presence/alice'), true, 'kept alive')
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    const later = await versionOf(bob, 'presence/alice')
    assert.ok(later.seq > first.seq && later.wall > first.wall, 'refreshed')
    assert.equal(await alice.stop('SIGKILL'), null)
    const killed = Date.now()
    // each read is timed by when it began (a read that began after the expiry and still saw the key breaks the
    // promise), not by when its answer came back, which a loaded machine delays
    let expires = 0
    let lastSeen = 0
    await waitFor(async () => {
      const began = Date.now()
      const entry = await bob.rpc('kv_get', { key: 'presence/alice' })
      if (entry === null) return true
      expires = Math.max(expires, entry.expires ?? Infinity)
      lastSeen = began
      return false
    }, 'alice\'s presence to vanish', TTL + 10_000)
    const gone = Date.now() - killed
    // the expiry is in the signed op: nothing refreshed it after the kill, and no read after it saw the key
    assert.ok(expires <= killed + TTL, `bob held a version expiring ${expires - killed} ms after the kill, TTL ${TTL}`)
    assert.ok(lastSeen <= expires + 50, `bob showed the key ${lastSeen - expires} ms after it expired`)
    assert.equal(await present(bob, 'presence/alice'), false, 'and murmurctl reads it as absent')
    console.log(`# presence gone ${gone} ms after SIGKILL, its expiry ${expires - killed} ms after it (TTL ${TTL} ms)`)
    // the keepalive belongs to the node: it resumes when alice starts again
    await alice.start({ peers: [await bob.addr()] })
    await waitFor(async () => await present(bob, 'presence/alice'), 'alice\'s presence back on bob', 10_000)
    assert.equal((await bob.json(['get', 'presence/alice'])).value, 'v1.2.3')
    // a put without --keepalive ends it: nothing refreshes the new value, which expires
    assert.equal((await alice.ctl(['put', '--ttl', '3s', 'presence/alice', 'leaving'])).code, 0)
    await waitFor(async () => !(await present(bob, 'presence/alice')), 'the unrefreshed key to expire', TTL + 3_000)
    // del ends it too
    assert.equal((await alice.ctl(['put', '--ttl', '3s', '--keepalive', 'presence/alice', 'again'])).code, 0)
    await waitFor(async () => await present(bob, 'presence/alice'), 'alice\'s presence back')
    assert.equal((await alice.ctl(['del', 'presence/alice'])).code, 0)
    await waitFor(async () => !(await present(bob, 'presence/alice')), 'the delete')
    assert.deepEqual((await alice.status()).keepalives, [], 'del ended it')
    const quiet = Date.now() + TTL
    while (Date.now() < quiet) {
      assert.equal(await present(alice, 'presence/alice'), false, 'no refresh after del')
      await new Promise(resolve => setTimeout(resolve, 250))
    }
  })

  it('watchers hear a keepalive key come, change and go, not each refresh of it; the refreshes still replicate', async () => {
    const { alice, bob } = pair
    const watches = [alice, bob].map(node => startWatch(node, ['--prefix', 'beacon/']))
    try {
      await waitFor(() => watches.every(w => w.events().some(e => e.type === 'ready')), 'the watches to be ready')
      assert.equal((await alice.ctl(['put', '--ttl', '2s', '--keepalive', 'beacon/alice', 'up'])).code, 0)
      const first = await waitFor(async () => await present(bob, 'beacon/alice') && await versionOf(bob, 'beacon/alice'), 'bob to see the beacon')
      // refreshed every third of the 2 s TTL: at least three refreshes reach bob
      await waitFor(async () => (await versionOf(bob, 'beacon/alice')).seq >= first.seq + 3, 'three refreshes to reach bob', 10_000)
      assert.equal((await alice.ctl(['put', '--ttl', '2s', '--keepalive', 'beacon/alice', 'draining'])).code, 0)
      await waitFor(async () => (await bob.json(['get', 'beacon/alice'])).value === 'draining', 'the new value on bob')
      await waitFor(async () => (await versionOf(bob, 'beacon/alice')).seq >= (await versionOf(alice, 'beacon/alice')).seq && (await versionOf(alice, 'beacon/alice')).seq >= first.seq + 6, 'more refreshes of it', 10_000)
      // a refresh carries its signed bit, alike in both files
      await waitFor(() => storeRows(bob).some(row => (row as { refresh: number | null }).refresh === 1), 'a refresh in bob\'s kv_store')
      assert.equal((await alice.ctl(['del', 'beacon/alice'])).code, 0)
      for (const [i, node] of [alice, bob].entries()) {
        await waitFor(() => watches[i]!.events().some(e => e.type === 'delete'), `${node.name}'s watch to hear the delete`)
        const told = watches[i]!.events().filter(e => e.key === 'beacon/alice').map(e => `${e.type} ${String(e.value ?? '')}`.trim())
        assert.deepEqual(told, ['put up', 'put draining', 'delete'], `${node.name}'s watch`)
        // the refreshes took no slot of the key's history: its past is the two puts
        const history = await node.json<{ versions: Array<{ value: unknown, current: boolean }> }>(['history', 'beacon/alice'])
        assert.deepEqual(history.versions.filter(v => !v.current).map(v => v.value), ['draining', 'up'], `${node.name}'s history`)
      }
    } finally {
      for (const w of watches) await w.stop()
    }
  })

  it('a watcher hears a keepalive key come back after it expired while its node was frozen', async () => {
    const { alice, bob } = pair
    const watch = startWatch(bob, ['--prefix', 'back/'])
    try {
      await waitFor(() => watch.events().some(e => e.type === 'ready'), 'the watch to be ready')
      assert.equal((await alice.ctl(['put', '--ttl', '3s', '--keepalive', 'back/alice', 'up'])).code, 0)
      await waitFor(() => watch.events().some(e => e.key === 'back/alice' && e.type === 'put'), 'bob\'s watch to hear the put')
      // frozen, alice refreshes nothing: on bob the key expires
      alice.process?.kill('SIGSTOP')
      try {
        await waitFor(() => watch.events().some(e => e.key === 'back/alice' && e.type === 'expire'), 'bob\'s watch to hear the expiry', 10_000)
      } finally {
        alice.process?.kill('SIGCONT')
      }
      // her next refresh brings it back: a change for whoever heard it go
      await waitFor(async () => await present(bob, 'back/alice'), 'the key back on bob', 10_000)
      await waitFor(() => watch.events().filter(e => e.key === 'back/alice').at(-1)?.type === 'put', 'bob\'s watch to hear it come back', 10_000)
      assert.deepEqual(watch.events().filter(e => e.key === 'back/alice').map(e => e.type).slice(0, 3), ['put', 'expire', 'put'])
    } finally {
      await watch.stop()
    }
  })

  it('presence: list presence/ shows each running node, with its version', async () => {
    const { alice, bob } = pair
    for (const node of [alice, bob]) {
      const version = (await node.json(['version'])).version as string
      assert.equal((await node.ctl(['put', '--ttl', '3s', '--keepalive', `presence/${node.name}`, version])).code, 0)
    }
    await waitFor(async () => (await bob.ctl(['list', '--prefix', 'presence/'])).stdout.split('\n').filter(Boolean).length === 2, 'both nodes present')
    assert.equal(await bob.stop('SIGKILL'), null)
    await waitFor(async () => (await alice.ctl(['list', '--prefix', 'presence/'])).stdout.trim().split('\n').length === 1, 'bob gone from alice\'s list', 6_000)
    assert.match((await alice.ctl(['list', '--prefix', 'presence/'])).stdout, /^presence\/alice = /)
  })
})
