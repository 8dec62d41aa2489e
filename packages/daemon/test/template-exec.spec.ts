/**
 * `murmurctl template` and `murmurctl exec` against real daemons: keys
 * changed on another node reach the rendered file (replaced whole, its mode
 * kept) and the restarted command's environment; bursts of changes are
 * coalesced; both follow murmurd across a restart; `--once` renders and
 * exits; a bad template stops with its line.
 */
import assert from 'node:assert/strict'
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Background } from './background-ctl.js'
import { TestCluster, waitFor, type TestNode } from './harness.js'
import { RawClient } from './raw-client.js'

const read = (path: string): string => existsSync(path) ? readFileSync(path, 'utf8') : ''

describe('murmurctl template and exec', () => {
  let cluster: TestCluster
  let alice: TestNode
  let bob: TestNode
  const running: Background[] = []
  const background = (node: TestNode, args: string[]): Background => {
    const b = new Background(node, args)
    running.push(b)
    return b
  }
  before(async () => {
    cluster = new TestCluster()
    alice = await cluster.start('alice')
    bob = await cluster.start('bob', { peers: [await alice.addr()] })
    await bob.put('app/db/port', '5432')
    await bob.put('app/settings', '{"replicas": 3, "zones": ["a", "b"]}')
    await bob.put('other/key', 'not under the prefix')
    await cluster.converged([alice, bob], 3)
  })
  after(async () => {
    for (const b of running) await b.stop()
    await cluster.close()
  })

  it('renders keys from another node into the file, replaced whole with its mode kept, and runs --exec once per change', async () => {
    const tmpl = join(cluster.dir, 'app.tmpl')
    const out = join(cluster.dir, 'app.conf')
    const log = join(cluster.dir, 'exec.log')
    writeFileSync(tmpl, 'port = {{ keys["db/port"] }}\nreplicas = {{ json["settings"].replicas }}\nzones = {{ json["settings"].zones | join: "," }}\n{% for e in entries %}# {{ e.key }}\n{% endfor %}')
    writeFileSync(out, 'old\n')
    chmodSync(out, 0o640)
    const inode = statSync(out).ino
    const t = background(alice, ['template', '--prefix', 'app/', '--template', tmpl, '--out', out, '--exec', `head -1 ${out} >> ${log}`])
    await waitFor(() => read(out).startsWith('port = 5432'), 'the first render', 15_000)
    assert.equal(read(out), 'port = 5432\nreplicas = 3\nzones = a,b\n# app/db/port\n# app/settings\n')
    assert.equal(statSync(out).mode & 0o777, 0o640, 'the mode is kept')
    assert.notEqual(statSync(out).ino, inode, 'replaced by rename, not written in place')
    await waitFor(() => read(log) === 'port = 5432\n', '--exec after the first render')

    // a burst of changes on bob: coalesced into fewer renders than changes
    const changes = Array.from({ length: 20 }, (_, i) => ({ key: 'app/db/port', value: String(6000 + i) }))
    const client = await RawClient.connect(bob.socket)
    try {
      for (const { key, value } of changes) await client.request('kv_put', { key, value })
    } finally {
      client.destroy()
    }
    // --exec runs after each render, in order: once it has seen the last value, every earlier run is in the log
    await waitFor(() => read(log).endsWith('port = 6019\n'), '--exec after the last of the burst', 15_000)
    const runs = read(log).split('\n').filter(Boolean).length
    assert.ok(runs >= 2 && runs < 1 + changes.length, `--exec ran ${runs} times for the first render and ${changes.length} changes`)

    // murmurd restarts while a key changes elsewhere: the template follows it back
    await alice.stop()
    await bob.put('app/db/port', '7000')
    await alice.start()
    // alice listens on a new port now: bob dials her there
    assert.equal((await bob.ctl(['connect', await alice.addr()])).code, 0)
    await waitFor(() => read(out).startsWith('port = 7000\n'), 'the render after alice came back', 20_000)
    assert.match(t.stderr, /went away; following again once it is back/)
    assert.equal(await t.stop(), 0)
  })

  it('--once renders and exits; a bad template stops with its line, writing nothing', async () => {
    const tmpl = join(cluster.dir, 'once.tmpl')
    const out = join(cluster.dir, 'once.conf')
    writeFileSync(tmpl, 'port={{ keys["db/port"] }}\n')
    const once = await alice.ctl(['template', '--prefix', 'app/', '--template', tmpl, '--out', out, '--once'])
    assert.equal(once.code, 0, once.stderr)
    assert.equal(read(out), `port=${(await alice.json(['get', 'app/db/port'])).value}\n`)
    const bad = join(cluster.dir, 'bad.tmpl')
    writeFileSync(bad, 'fine\n{% for x in entries %}never closed\n')
    const refused = await alice.ctl(['template', '--prefix', 'app/', '--template', bad, '--out', join(cluster.dir, 'bad.conf'), '--once'])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /^murmurctl: template .*bad\.tmpl: tag \{% for x in entries %\} not closed, file:.*bad\.tmpl, line:2, col:1/)
    assert.equal(existsSync(join(cluster.dir, 'bad.conf')), false)
  })

  it('an --exec that leaves a process in the background does not stop later renders', async () => {
    const tmpl = join(cluster.dir, 'bg.tmpl')
    const out = join(cluster.dir, 'bg.conf')
    const pids = join(cluster.dir, 'bg.pids')
    writeFileSync(tmpl, 'port={{ keys["db/port"] }}\n')
    // the background sleep keeps the shell's stdout and stderr open after the shell has exited
    const t = background(alice, ['template', '--prefix', 'app/', '--template', tmpl, '--out', out, '--exec', `sleep 60 & echo $! >> ${pids}`])
    try {
      await waitFor(() => read(pids) !== '', 'the first --exec', 15_000)
      for (const [i, port] of ['9100', '9200'].entries()) {
        await alice.put('app/db/port', port)
        await waitFor(() => read(out) === `port=${port}\n`, `render ${i + 2}, after a change`, 15_000)
        await waitFor(() => read(pids).split('\n').filter(Boolean).length === i + 2, `--exec after render ${i + 2}`)
      }
      let code: number | null | undefined
      void t.stop().then(c => { code = c })
      assert.equal(await waitFor(() => code !== undefined && { code }, 'murmurctl template to exit on SIGTERM', 10_000).then(r => r.code), 0)
    } finally {
      for (const pid of read(pids).split('\n').filter(Boolean)) {
        try { process.kill(Number(pid)) } catch {}
      }
    }
  })

  it('a change during the first render\'s --exec waits for it: renders and their --exec never overlap', async () => {
    const tmpl = join(cluster.dir, 'slow.tmpl')
    const out = join(cluster.dir, 'slow.conf')
    const log = join(cluster.dir, 'slow.log')
    writeFileSync(tmpl, 'port={{ keys["db/port"] }}\n')
    const t = background(alice, ['template', '--prefix', 'app/', '--template', tmpl, '--out', out, '--exec', `echo start >> ${log}; sleep 2; echo end >> ${log}`])
    await waitFor(() => read(log) === 'start\n', 'the first --exec to start', 15_000)
    await alice.put('app/db/port', '9300')
    await waitFor(() => read(log).split('\n').filter(line => line === 'end').length === 2, 'the second --exec to end', 15_000)
    assert.equal(read(log), 'start\nend\nstart\nend\n')
    assert.equal(await t.stop(), 0)
  })

  it('exec: a SIGTERM that arrives while the command is being restarted stops murmurctl, and starts nothing more', async () => {
    const log = join(cluster.dir, 'slow-stop.log')
    const script = join(cluster.dir, 'slow-stop.sh')
    // stops slowly: the restart waits for it, and the SIGTERM for murmurctl comes meanwhile
    writeFileSync(script, `#!/bin/sh\necho "start $DB_PORT" >> ${log}\ntrap 'echo stopping >> ${log}; sleep 1; exit 0' TERM\nwhile true; do sleep 0.05; done\n`)
    chmodSync(script, 0o755)
    const e = background(alice, ['exec', '--prefix', 'app/', '--', script])
    await waitFor(() => read(log).startsWith('start '), 'the command to start', 15_000)
    await alice.put('app/db/port', '9400')
    await waitFor(() => read(log).endsWith('stopping\n'), 'the restart to begin', 15_000)
    e.child.kill('SIGTERM')
    let code: number | null | undefined
    void e.exited.then(c => { code = c })
    await waitFor(() => code !== undefined, 'murmurctl exec to exit', 10_000)
    assert.equal(read(log).split('\n').filter(line => line.startsWith('start')).length, 1, 'no command started after the SIGTERM')
  })

  it('exec runs a command with the keys as variables and restarts it when they change on another node', async () => {
    const log = join(cluster.dir, 'child.log')
    const script = join(cluster.dir, 'child.sh')
    writeFileSync(script, `#!/bin/sh\necho "start $DB_PORT $SETTINGS" >> ${log}\ntrap 'echo stop >> ${log}; exit 0' TERM\nwhile true; do sleep 0.05; done\n`)
    chmodSync(script, 0o755)
    const e = background(alice, ['exec', '--prefix', 'app/', '--', script])
    const port = (await alice.json(['get', 'app/db/port'])).value
    await waitFor(() => read(log).startsWith(`start ${port} {"replicas": 3`), 'the command to start with the keys', 15_000)
    await bob.put('app/db/port', '8000')
    await waitFor(() => read(log).includes('stop\nstart 8000 '), 'a restart with the new value', 15_000)
    await bob.put('other/key', 'changed outside the prefix')
    await waitFor(async () => (await alice.json(['get', 'other/key'])).value === 'changed outside the prefix', 'other/key on alice')
    assert.equal(read(log).split('\n').filter(line => line.startsWith('start')).length, 2, 'a change outside the prefix restarts nothing')
    assert.equal(await e.stop(), 0, 'SIGTERM goes to the command, and its exit code is murmurctl\'s')
    assert.match(read(log), /stop\n$/)
    const failing = await alice.ctl(['exec', '--prefix', 'app/', '--', 'sh', '-c', 'exit 7'])
    assert.equal(failing.code, 7)
  })
})
