/**
 * `murmurctl template` and `murmurctl exec` on the edges of their data and
 * their commands, against a real murmurd: key names that are also names of
 * Object.prototype, two keys that map to one variable, and a command whose
 * own children must go when it is stopped.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
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
  before(async () => {
    cluster = new TestCluster()
    alice = await cluster.start('alice')
  })
  after(async () => {
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
})
