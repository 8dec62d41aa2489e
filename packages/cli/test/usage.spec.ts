import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { run, spawnCli } from './run-cli.js'

function assertOneLine (stderr: string, pattern: RegExp): void {
  assert.match(stderr, /^murmurctl: [^\n]*\n$/)
  assert.match(stderr, pattern)
}

describe('usage', () => {
  it('exits 2 with one line for an unknown command', async () => {
    const { code, stdout, stderr } = await run(['frobnicate'])
    assert.equal(code, 2)
    assert.equal(stdout, '')
    assertOneLine(stderr, /unknown command 'frobnicate'/)
  })

  it('exits 2 with one line for a missing key', async () => {
    const { code, stderr } = await run(['get'])
    assert.equal(code, 2)
    assertOneLine(stderr, /missing required argument 'key'/)
  })

  it('exits 2 with one line, suggestion included, for an unknown option', async () => {
    const { code, stderr } = await run(['list', '--jsn'])
    assert.equal(code, 2)
    assertOneLine(stderr, /unknown option '--jsn' \(Did you mean --json\?\)/)
  })

  it('exits 2 for a --timeout or --limit that is not a positive integer', async () => {
    for (const argv of [['--timeout', '0', 'status'], ['list', '--limit', 'ten']]) {
      const { code, stderr } = await run(argv)
      assert.equal(code, 2, argv.join(' '))
      assertOneLine(stderr, /expected a positive integer/)
    }
  })

  it('exits 2 for an empty --socket or --data-dir, rather than looking elsewhere', async () => {
    for (const flag of ['--socket', '--data-dir']) {
      const { code, stderr } = await run([flag, '', 'status'])
      assert.equal(code, 2, flag)
      assertOneLine(stderr, /it is empty; give a path/)
    }
  })

  it('exits 2 for a --timeout, --exec-timeout or --kill-timeout past what a timer can wait, before connecting', async () => {
    const socket = ['--socket', '/nonexistent/murmurd.sock']
    for (const argv of [['--timeout', '2147483648', 'status'], ['template', '--prefix', 'p', '--template', 't', '--out', 'o', '--exec-timeout', '9999999999'], ['template', '--prefix', 'p', '--template', 't', '--out', 'o', '--kill-timeout', '2147483648'], ['exec', '--prefix', 'p', '--kill-timeout', '2147483648', '--', 'true']]) {
      const { code, stderr } = await run([...socket, ...argv])
      assert.equal(code, 2, argv.join(' '))
      assertOneLine(stderr, /expected a positive integer of ms, at most 2147483647 \(about 24\.8 days\)/)
    }
    assert.equal((await run([...socket, '--timeout', '2147483647', 'status'])).code, 3)
  })

  it('exits 2 for a --name murmurd would refuse, rather than look outside the data root', async () => {
    for (const name of ['../x', 'bad name', '-x']) {
      const { code, stderr } = await run([`--name=${name}`, 'status'])
      assert.equal(code, 2, name)
      assertOneLine(stderr, /use 1-64 letters, digits, '\.', '_' or '-', starting with a letter or digit/)
    }
  })

  it('exits 2 for put --base64 with a value that is not base64, before connecting', async () => {
    const { code, stderr } = await run(['--socket', '/nonexistent/murmurd.sock', 'put', 'k', 'not base64!', '--base64'])
    assert.equal(code, 2)
    assertOneLine(stderr, /not valid base64/)
  })

  it('prints help on stdout and exits 0 for --help, also per command', async () => {
    const top = await run(['--help'])
    assert.equal(top.code, 0)
    assert.match(top.stdout, /Usage: murmurctl/)
    for (const command of ['put', 'get', 'del', 'list', 'watch', 'peers', 'connect', 'status']) {
      assert.match(top.stdout, new RegExp(`\\n  ${command} `))
    }
    const exitCodes = top.stdout.slice(top.stdout.indexOf('Exit codes:')).replace(/\s+/g, ' ')
    for (const code of ['0 ok', '1 ', '2 usage', '3 daemon unreachable', '4 key not found', '5 a conditional write', '6 a schema refused']) {
      assert.ok(exitCodes.includes(code), `--help names exit code ${code}`)
    }
    assert.match(top.stdout.replace(/\s+/g, ' '), /export \[options\] print every key as one JSON object a line \(NDJSON\): key, type \(text, json or binary: base64\), value, version, expires \(with a TTL\)/)
    const get = await run(['get', '--help'])
    assert.equal(get.code, 0)
    assert.match(get.stdout, /--meta/)
    assert.match(get.stdout, /--json/)
  })

  it('exits 2 with help on stderr when no command is given', async () => {
    const { code, stderr } = await run([])
    assert.equal(code, 2)
    assert.match(stderr, /Usage: murmurctl/)
  })

  it('runs as the bin: --help exits 0, an unknown command exits 2', async () => {
    const help = spawnCli(['--help'])
    assert.equal((await help.exit).code, 0)
    assert.match(help.stdout.text, /Usage: murmurctl/)
    const unknown = await spawnCli(['frobnicate']).exit
    assert.equal(unknown.code, 2)
    assertOneLine(unknown.stderr, /unknown command/)
  })
})
