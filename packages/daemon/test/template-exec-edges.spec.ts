/**
 * `murmurctl template` and `murmurctl exec` on the edges of their data and
 * their commands, against a real murmurd: key names that are also names of
 * Object.prototype, two keys that map to one variable, a command whose
 * own children must go when it is stopped, and one that ignores SIGTERM.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Background } from './background-ctl.js'
import { TestCluster, waitFor, type TestNode } from './harness.js'

const read = (path: string): string => existsSync(path) ? readFileSync(path, 'utf8') : ''

/** Whether a process with this PID still runs (a zombie awaiting its parent counts as gone). */
function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : ''
  return !/^\d+ \(.*\) Z /.test(stat)
}

describe('murmurctl template and exec: odd names, colliding variables, stopped commands', () => {
  let cluster: TestCluster
  let alice: TestNode
  const strays: number[] = []
  const running: Background[] = []
  const background = (args: string[]): Background => {
    const b = new Background(alice, args)
    running.push(b)
    return b
  }
  before(async () => {
    cluster = new TestCluster()
    alice = await cluster.start('alice')
  })
  after(async () => {
    for (const b of running) await b.stop()
    for (const pid of strays) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
    await cluster.close()
  })

  it('template: keys named __proto__, constructor and toString render like any other', async () => {
    await alice.put('odd/__proto__', '{"a":1}')
    await alice.put('odd/constructor', 'c')
    await alice.put('odd/toString', 't')
    const tmpl = join(cluster.dir, 'odd.tmpl')
    const out = join(cluster.dir, 'odd.conf')
    writeFileSync(tmpl, '{{ keys["__proto__"] }}|{{ json["__proto__"].a }}|{{ keys["constructor"] }}|{{ keys["toString"] }}|{{ keys["hasOwnProperty"] }}\n')
    const once = await alice.ctl(['template', '--prefix', 'odd/', '--template', tmpl, '--out', out, '--once'])
    assert.equal(once.code, 0, once.stderr)
    assert.equal(read(out), '{"a":1}|1|c|t|\n')
  })

  it('exec: two keys that map to one variable stop it at start, naming both and the variable (exit 1), running nothing', async () => {
    await alice.put('clash/db/port', '1')
    await alice.put('clash/db_port', '2')
    const ran = join(cluster.dir, 'clash.ran')
    const refused = await alice.ctl(['exec', '--prefix', 'clash/', '--', 'sh', '-c', `echo "$DB_PORT" > ${ran}`])
    assert.equal(refused.code, 1, refused.stderr)
    assert.match(refused.stderr, /DB_PORT is the variable of "clash\/db\/port" and "clash\/db_port"/)
    assert.equal(existsSync(ran), false, 'the command did not run')
  })

  it('exec: a clash that arrives while the command runs leaves it running as it was, and says why', async () => {
    await alice.put('later/db/port', '1')
    const log = join(cluster.dir, 'later.log')
    const e = background(['exec', '--prefix', 'later/', '--', 'sh', '-c', `echo "start $DB_PORT" >> ${log}; exec sleep 1000`])
    await waitFor(() => read(log) === 'start 1\n', 'the command to start', 15_000)
    await alice.put('later/DB_PORT', '2')
    await waitFor(() => /DB_PORT is the variable of "later\/DB_PORT" and "later\/db\/port".*left running/.test(e.stderr), 'murmurctl exec to report the clash', 15_000)
    await alice.put('later/db/port', '3')
    await alice.ctl(['del', 'later/DB_PORT'])
    await waitFor(() => read(log) === 'start 1\nstart 3\n', 'a restart once the clash is gone', 15_000)
  })

  it('exec: a key whose variable murmurctl inherited (PATH, HOME) wins, and murmurctl says so once for each, naming the key', async () => {
    const path = `/murmur-test-marker:${process.env.PATH ?? '/usr/bin:/bin'}`
    await alice.put('inherit/path', path)
    await alice.put('inherit/home', '/nonexistent-home')
    await alice.put('inherit/v', '1')
    const log = join(cluster.dir, 'inherit.log')
    const e = background(['exec', '--prefix', 'inherit/', '--', 'sh', '-c', `echo "$V $PATH $HOME" >> ${log}; exec sleep 1000`])
    await waitFor(() => read(log) === `1 ${path} /nonexistent-home\n`, 'the command to start with the keys\' PATH and HOME', 15_000)
    await alice.put('inherit/v', '2')
    await waitFor(() => read(log).endsWith(`2 ${path} /nonexistent-home\n`), 'the restart', 15_000)
    for (const [key, name] of [['inherit/path', 'PATH'], ['inherit/home', 'HOME']]) {
      const said = e.stderr.split('\n').filter(line => line.includes(`"${key}" sets ${name}, replacing the ${name} murmurctl was started with`))
      assert.equal(said.length, 1, e.stderr)
    }
    assert.doesNotMatch(e.stderr, /"inherit\/v" sets/)
  })

  /** The PIDs a command wrote to `file`, one a line, each kept to be killed in `after` should it outlive the test. */
  const pidsIn = (file: string): number[] => {
    const pids = read(file).split('\n').filter(Boolean).map(Number)
    for (const pid of pids) if (!strays.includes(pid)) strays.push(pid)
    return pids
  }

  /** A key `<name>/x`, a template `x=…` of it, and where its output and its command's PIDs go. */
  const templateOf = async (name: string): Promise<{ tmpl: string, out: string, pids: string }> => {
    await alice.put(`${name}/x`, '1')
    const tmpl = join(cluster.dir, `${name}.tmpl`)
    writeFileSync(tmpl, 'x={{ keys["x"] }}\n')
    return { tmpl, out: join(cluster.dir, `${name}.conf`), pids: join(cluster.dir, `${name}.pids`) }
  }

  it('template: --exec-timeout stops the command\'s children too, not only its shell', async () => {
    const { tmpl, out, pids } = await templateOf('slow')
    const once = await alice.ctl(['template', '--prefix', 'slow/', '--template', tmpl, '--out', out, '--once', '--exec-timeout', '1000', '--exec', `sleep 1000 & echo $! > ${pids}; wait`])
    assert.equal(once.code, 0, once.stderr)
    assert.match(once.stderr, /--exec still running after 1000 ms/)
    const [sleeper] = pidsIn(pids)
    assert.ok(sleeper !== undefined, 'the command started its child')
    await waitFor(() => !alive(sleeper), `the command's child (PID ${sleeper}) to be gone`, 10_000)
  })

  /** A command that ignores SIGTERM, as its child does: it writes its shell's PID and its child's to `file`. */
  const deaf = (file: string): string => `trap '' TERM; sleep 1000 & echo $$ >> ${file}; echo $! >> ${file}; wait`

  it('template: a command that ignores SIGTERM gets SIGKILL --kill-timeout after it; later renders go on, and murmurctl\'s stop ends', async () => {
    const { tmpl, out, pids } = await templateOf('deaf')
    const t = background(['template', '--prefix', 'deaf/', '--template', tmpl, '--out', out, '--exec-timeout', '3000', '--kill-timeout', '1000', '--exec', deaf(pids)])
    const first = await waitFor(() => pidsIn(pids).length === 2 && pidsIn(pids), 'the first command to start', 15_000)
    await waitFor(() => /--exec still running 1000 ms after SIGTERM: SIGKILL to it and its children/.test(t.stderr), 'murmurctl template to report the SIGKILL', 15_000)
    for (const pid of first) await waitFor(() => !alive(pid), `the first command's process ${pid} to be gone`, 10_000)
    await alice.put('deaf/x', '2')
    await waitFor(() => read(out) === 'x=2\n' && pidsIn(pids).length === 4, 'the next render and its command', 15_000)
    const second = pidsIn(pids).slice(2)
    assert.equal(await t.stop(30_000), 0, t.stderr) // it waits for the command's timeout and grace, not forever
    assert.match(t.stderr, /stopping once --exec has ended \(SIGTERM 3000 ms after its start, SIGKILL 1000 ms after that\)/)
    for (const pid of second) await waitFor(() => !alive(pid), `the second command's process ${pid} to be gone`, 10_000)
  })

  it('exec: stopping murmurctl ends a command that ignores SIGTERM: SIGKILL --kill-timeout after it (exit 137)', async () => {
    await alice.put('deafexec/v', '1')
    const pids = join(cluster.dir, 'deafexec.pids')
    const e = background(['exec', '--prefix', 'deafexec/', '--kill-timeout', '1000', '--', 'sh', '-c', deaf(pids)])
    const started = await waitFor(() => pidsIn(pids).length === 2 && pidsIn(pids), 'the command to start', 15_000)
    assert.equal(await e.stop(), 128 + 9, e.stderr)
    assert.match(e.stderr, /sh still running 1000 ms after SIGTERM: SIGKILL/)
    for (const pid of started) await waitFor(() => !alive(pid), `the command's process ${pid} to be gone`, 10_000)
  })

  it('exec: a restart, and the stop at the end, reach the command\'s children too', async () => {
    await alice.put('group/v', '1')
    const pids = join(cluster.dir, 'group.pids')
    const e = background(['exec', '--prefix', 'group/', '--', 'sh', '-c', `sleep 1000 & echo $! >> ${pids}; wait`])
    const [first] = await waitFor(() => pidsIn(pids).length === 1 && pidsIn(pids), 'the command to start its child', 15_000)
    await alice.put('group/v', '2')
    const [, second] = await waitFor(() => pidsIn(pids).length === 2 && pidsIn(pids), 'the restarted command to start its child', 15_000)
    await waitFor(() => !alive(first as number), `the first command's child (PID ${first}) to go with it`, 10_000)
    assert.equal(await e.stop(), 128 + 15, 'the command ended by SIGTERM')
    await waitFor(() => !alive(second as number), `the second command's child (PID ${second}) to be gone`, 10_000)
  })
})
