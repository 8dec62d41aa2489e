/**
 * 8. murmurctl start-up. Each command that talks to the daemon (put, get,
 * list, status, peers, del) and --help / --version, run as a whole process
 * against one running murmurd, next to a bare `node -e 0` in the same round:
 * one round runs each once, in turn, so load on the machine falls on all of
 * them alike. Wall and CPU (user + system) of the whole process, from wait4(2)
 * in bench/lib/rusage.py; ratios are medians of per-round ratios.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { Daemon, ROOT, removeDir, tempDir } from '../lib/daemon.mjs'
import { median } from '../lib/stats.mjs'

const MURMURCTL = join(ROOT, 'packages/cli/bin/murmurctl.cjs')
const TARGET = 1.3

/** Runs the plan in bench/lib/rusage.py; resolves to { label: { wall: [ms], cpu: [ms] } }. */
async function measure (plan, timeoutMs) {
  return await new Promise((resolve, reject) => {
    const child = execFile('python3', [join(ROOT, 'bench/lib/rusage.py')], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`rusage.py: ${stderr.trim() || err.message}`))
      else resolve(JSON.parse(stdout))
    })
    child.stdin.end(JSON.stringify(plan))
  })
}

export async function cli ({ quick, runs, report, log }) {
  const rounds = Math.max(10, runs * 7)
  const root = tempDir()
  const node = new Daemon('cli', join(root, 'cli'))
  try {
    await node.start()
    await node.ctl.call('kv_put', { key: 'cli:seed', value: 'v' })
    const ctl = (...args) => [process.execPath, MURMURCTL, '--data-dir', node.dataDir, ...args]
    const commands = [
      ['node -e 0', [process.execPath, '-e', '0']],
      ['put', ctl('put', 'cli:k', 'value')],
      ['get', ctl('get', 'cli:k')],
      ['list', ctl('list')],
      ['status', ctl('status')],
      ['peers', ctl('peers')],
      ['del', ctl('del', 'cli:k')], // after put in every round, so there is something to delete
      ['--help', ctl('--help')],
      ['--version', ctl('--version')]
    ]
    const times = await measure({ rounds, commands }, 10 * 60_000)
    const base = times['node -e 0']
    log(`  node -e 0: wall ${median(base.wall).toFixed(0)} ms, CPU ${median(base.cpu).toFixed(0)} ms (${rounds} rounds)`)
    for (const [label] of commands.slice(1)) {
      const t = times[label]
      log(`  ${label}: wall ${median(t.wall).toFixed(0)} ms, CPU ${median(t.cpu).toFixed(0)} ms`)
      report.row({ section: '8 cli', id: `cli.${label.replace(/^-+/, '')}.wall`, label: `murmurctl ${label}: wall`, unit: 'ms', runs: t.wall,
        baseline: { label: 'node -e 0', runs: base.wall }, target: { on: 'ratio', op: '<=', limit: TARGET, text: `≤ ${TARGET}×` },
        note: label === 'put' ? `whole process, from fork to exit (wait4), ${rounds} rounds each alternating with node -e 0; one murmurd, found with --data-dir` : undefined })
      report.row({ section: '8 cli', id: `cli.${label.replace(/^-+/, '')}.cpu`, label: `murmurctl ${label}: CPU`, unit: 'ms', runs: t.cpu,
        baseline: { label: 'node -e 0', runs: base.cpu } })
    }
    report.detail('cli', { rounds, times })
  } finally {
    await node.stop()
    removeDir(root)
  }
}
