/**
 * murmurd's TOML config file: each layer of flags > environment > file >
 * defaults, the default path, errors that name the key and line, paths
 * relative to the file, and `--print-config` from the real binary (which
 * never prints the swarm key). One real daemon starts from a file alone.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parse } from 'smol-toml'
import { buildCommand, loadConfig, parseConfig, type DaemonConfig } from '../src/config.js'
import { formatConfig } from '../src/config-print.js'
import { MURMURCTL, MURMURD, root, run, waitFor } from './harness.js'
import type { Env } from '@murmur/protocol'

let dir: string
before(() => { dir = mkdtempSync(join(tmpdir(), 'murmur-config-')) })
after(() => { rmSync(dir, { recursive: true, force: true }) })

/** Writes `text` to `<dir>/<name>` and returns the path. */
function file (name: string, text: string): string {
  const path = join(dir, name)
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, text)
  return path
}

/** HOME and XDG_CONFIG_HOME point into the test's directory, so no file of the machine's user is read. */
const isolated = (env: Env = {}): Env => ({ HOME: join(dir, 'home'), ...env })

const config = (argv: string[], env: Env = {}): DaemonConfig => parseConfig(buildCommand().exitOverride(), argv, isolated(env))

describe('murmurd config file', () => {
  it('sits under the environment and the flags, over the defaults, for every kind of setting', () => {
    const path = file('layers.toml', 'name = "x"\nanti-entropy-interval = 2500\npeer = ["/ip4/127.0.0.1/tcp/7"]\nmdns = false\nlog-level = "debug"\n')
    assert.equal(config(['--name', 'x']).antiEntropyIntervalMs, 5000, 'default without a file')
    const fromFile = config(['--config', path])
    assert.deepEqual([fromFile.name, fromFile.antiEntropyIntervalMs, fromFile.peers, fromFile.mdns, fromFile.logLevel],
      ['x', 2500, ['/ip4/127.0.0.1/tcp/7'], false, 'debug'])
    const env = { MURMUR_ANTI_ENTROPY_INTERVAL: '3000', MURMUR_PEER: '/ip4/127.0.0.1/tcp/8', MURMUR_NO_MDNS: '0', MURMUR_NAME: 'y' }
    const fromEnv = config(['--config', path], env)
    assert.deepEqual([fromEnv.name, fromEnv.antiEntropyIntervalMs, fromEnv.peers, fromEnv.mdns, fromEnv.logLevel],
      ['y', 3000, ['/ip4/127.0.0.1/tcp/8'], true, 'debug'], 'the environment wins over the file, the file still fills the rest')
    const fromFlags = config(['--config', path, '--name', 'z', '--anti-entropy-interval', '4000', '--peer', '/ip4/127.0.0.1/tcp/9', '--no-mdns'], env)
    assert.deepEqual([fromFlags.name, fromFlags.antiEntropyIntervalMs, fromFlags.peers, fromFlags.mdns],
      ['z', 4000, ['/ip4/127.0.0.1/tcp/9'], false], 'flags win over both')
    assert.equal(config([], { MURMUR_CONFIG: path }).antiEntropyIntervalMs, 2500, 'MURMUR_CONFIG names the file')
  })

  it('takes relay = true, and refuses a relay that is not a boolean', () => {
    assert.equal(config(['--config', file('relay.toml', 'name = "r"\nrelay = true\n')]).relay, true)
    assert.equal(config(['--config', file('relay-env.toml', 'name = "r"\nrelay = true\n')], { MURMUR_RELAY: 'off' }).relay, false, 'the environment wins')
    assert.throws(() => config(['--config', file('relay-bad.toml', 'name = "r"\nrelay = "yes"\n')]), { name: 'ConfigError', message: /relay-bad\.toml line 2: relay must be true or false, not string "yes"/ })
  })

  it('takes publish-window = 0 (a whole number that may be 0), where a positive one is wanted refuses 0', () => {
    assert.equal(config(['--config', file('window.toml', 'name = "w"\npublish-window = 0\n')]).publishWindowMs, 0)
    assert.equal(config(['--config', file('links.toml', 'name = "w"\npeer-links = 3\n')]).peerLinks, 3)
    assert.equal(config(['--config', file('rotate.toml', 'name = "w"\npeer-rotate = 0\n')]).peerRotateMs, 0)
    assert.throws(() => config(['--config', file('zero.toml', 'name = "w"\nmax-clock-skew = 0\n')]), { name: 'ConfigError', message: /zero\.toml line 2: max-clock-skew must be a positive whole number, not number 0/ })
  })

  it('reads $XDG_CONFIG_HOME/murmur/<name>.toml, or ~/.config/murmur/<name>.toml, only when it exists', () => {
    file('xdg/murmur/alpha.toml', 'group = "from-xdg"\n')
    file('home/.config/murmur/beta.toml', 'group = "from-home"\n')
    assert.equal(config(['--name', 'alpha'], { XDG_CONFIG_HOME: join(dir, 'xdg') }).group, 'from-xdg')
    assert.equal(config(['--name', 'beta']).group, 'from-home')
    assert.equal(config(['--name', 'alpha']).group, 'default', 'no file under ~/.config for alpha: defaults')
    assert.equal(config(['--name', 'beta'], { XDG_CONFIG_HOME: join(dir, 'xdg') }).group, 'default', 'XDG_CONFIG_HOME replaces ~/.config')
    assert.throws(() => config(['--name', 'x', '--config', join(dir, 'missing.toml')]), { name: 'ConfigError', message: /^cannot read config file .*missing\.toml: ENOENT/ })
  })

  it('takes --metrics as a port number or an address string', () => {
    assert.deepEqual(config(['--config', file('metrics.toml', 'name = "x"\nmetrics = 9464\n')]).metrics, { host: '127.0.0.1', port: 9464 })
    assert.deepEqual(config(['--config', file('metrics.toml', 'name = "x"\nmetrics = "0.0.0.0:9100"\n')]).metrics, { host: '0.0.0.0', port: 9100 })
    assert.throws(() => config(['--config', file('metrics.toml', 'name = "x"\nmetrics = true\n')]), { name: 'ConfigError', message: /metrics\.toml line 2: metrics must be a string, not boolean true/ })
  })

  it('resolves relative paths against the file\'s directory', () => {
    const path = file('etc/rel.toml', 'name = "x"\ndata-dir = "data/x"\nsocket = "run/x.sock"\n')
    const { dataDir, socket } = config(['--config', path])
    assert.equal(dataDir, join(dir, 'etc/data/x'))
    assert.equal(socket, join(dir, 'etc/run/x.sock'))
  })

  it('refuses data-dir = "" with its line, never taking the working directory', () => {
    const path = file('blank-dir.toml', 'name = "x"\ndata-dir = ""\n')
    assert.throws(() => config(['--config', path]), { name: 'ConfigError', message: `--data-dir is empty (is MURMUR_DATA_DIR blank?); give a directory, or unset it for the default (set by data-dir in ${path} line 2)` })
  })

  it('refuses unknown keys, wrong types and bad TOML with the file, the line and what to write', () => {
    const cases: Array<[string, RegExp]> = [
      ['# a comment\n\nname = "x"\npeers = ["/ip4/127.0.0.1/tcp/1"]\n', /bad\.toml line 4: unknown key "peers" \(did you mean "peer"\?\)/],
      ['name = "x"\n[tuning]\nfast = true\n', /bad\.toml line 2: unknown key "tuning"/],
      ['name = "x"\nmdns = "no"\n', /bad\.toml line 2: mdns must be true or false, not string "no"/],
      ['name = "x"\nmax-clock-skew = 1.5\n', /bad\.toml line 2: max-clock-skew must be a positive whole number, not number 1\.5/],
      ['name = "x"\nmax-clock-skew = -3\n', /bad\.toml line 2: max-clock-skew must be a positive whole number, not number -3/],
      ['name = "x"\npublish-window = -1\n', /bad\.toml line 2: publish-window must be a whole number, not number -1/],
      ['name = "x"\npublish-window = 2000\n', /^invalid --publish-window "2000": expected a whole number of ms from 0 \(publish at once\) to 1000 \(set by publish-window in .*bad\.toml line 2\)$/],
      ['name = "x"\nlisten = ["/ip4/127.0.0.1/tcp/1", 2]\n', /bad\.toml line 2: listen must be a list of non-empty strings, .* but holds number 2/],
      ['name = "x"\ngroup = 5\n', /bad\.toml line 2: group must be a string, not number 5/],
      ['name = "x"\ndurability = "sometimes"\n', /bad\.toml line 2: durability "sometimes": expected one of full, normal/],
      ['name = "x"\nconfig = "other.toml"\n', /bad\.toml line 2: "config" cannot be set inside a config file/],
      ['name = "x"\nlisten = [\n', /bad\.toml line 3 column 1: .*\(not valid TOML\)/],
      ['name = "x"\n\ngroup = "bad group!"\n', /^invalid --group "bad group!": .* \(set by group in .*bad\.toml line 3\)$/],
      ['name = "x"\ntombstone-grace = "soon"\n', /^invalid --tombstone-grace "soon": expected a positive whole number \(set by tombstone-grace in .*bad\.toml line 2\)$/]
    ]
    for (const [text, message] of cases) {
      const path = file('bad.toml', text)
      assert.throws(() => config(['--config', path]), { name: 'ConfigError', message }, text)
    }
  })

  it('--print-config prints TOML murmurd reads back, with each value\'s source, and never the swarm key', async () => {
    const keygen = await run(process.execPath, [MURMURCTL, 'keygen', join(dir, 'swarm.key')])
    assert.equal(keygen.code, 0, keygen.stderr)
    const key = readFileSync(join(dir, 'swarm.key'), 'utf8').trim().split('\n').at(-1) as string
    const path = file('print.toml', 'name = "printed"\nswarm-key = "swarm.key"\ntombstone-grace = 1000\n')
    const env = { ...process.env, ...isolated({ MURMUR_GROUP: 'env-group' }) }
    const printed = await run(process.execPath, [MURMURD, '--config', path, '--print-config', '--log-level', 'warn'], { env })
    assert.equal(printed.code, 0, printed.stderr)
    assert.ok(!printed.stdout.includes(key), 'the swarm key\'s bytes are not printed')
    const values = parse(printed.stdout)
    assert.equal(values['swarm-key'], join(dir, 'swarm.key'))
    assert.deepEqual([values.name, values.group, values['tombstone-grace'], values['publish-window'], values['log-level'], values.mdns], ['printed', 'env-group', 1000, 5, 'warn', true])
    assert.match(printed.stdout, /^group = "env-group" {2}# MURMUR_GROUP$/m)
    assert.match(printed.stdout, /^log-level = "warn" {2}# --log-level$/m)
    assert.match(printed.stdout, /^tombstone-grace = 1000 {2}# .*print\.toml line 3$/m)
    assert.match(printed.stdout, /^durability = "full" {2}# default$/m)
    // read back as a config file of its own, it gives the same configuration
    const again = await run(process.execPath, [MURMURD, '--config', file('again.toml', printed.stdout), '--print-config'], { env: { ...process.env, ...isolated() } })
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual(parse(again.stdout), values)
  })

  it('--print-config prints a relative --swarm-key and --allow-file as the files murmurd read, so the output reads back from any directory', async () => {
    const keyPath = join(dir, 'relative.key')
    const keygen = await run(process.execPath, [MURMURCTL, 'keygen', keyPath])
    assert.equal(keygen.code, 0, keygen.stderr)
    const allowPath = file('relative-allow.txt', '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK\n')
    const command = buildCommand().exitOverride()
    const argv = ['--name', 'x', '--swarm-key', relative(process.cwd(), keyPath), '--allow-file', relative(process.cwd(), allowPath)]
    const loaded = loadConfig(command, argv, isolated())
    const printed = formatConfig(command, loaded)
    assert.deepEqual([parse(printed)['swarm-key'], parse(printed)['allow-file']], [keyPath, allowPath])
    const back = config(['--config', file('elsewhere/printed.toml', printed)])
    assert.deepEqual([back.swarmKey, back.allow], [loaded.config.swarmKey, loaded.config.allow])
  })

  it('under the systemd unit, the instance\'s config file sets the log level (the unit\'s environment leaves it to the file)', () => {
    // the unit's Environment= lines, for instance "alice", with its /etc moved into the test's directory
    const unit = readFileSync(join(root, 'scripts/systemd/murmurd@.service'), 'utf8')
    const env: Env = Object.fromEntries([...unit.matchAll(/^Environment=([A-Z_]+)=(.*)$/gm)].map(([, name, value]) => [name as string, (value as string).replaceAll('%i', 'alice')]))
    assert.equal(env.XDG_CONFIG_HOME, '/etc')
    file('unit-etc/murmur/alice.toml', 'log-level = "debug"\ntombstone-grace = 1000\n')
    const loaded = config(['--name', 'alice'], { ...env, XDG_CONFIG_HOME: join(dir, 'unit-etc') })
    assert.deepEqual([loaded.logLevel, loaded.tombstoneGraceMs, loaded.dataDir], ['debug', 1000, '/var/lib/murmur/alice'])
  })

  it('starts a real daemon from a config file alone, and murmurctl reaches it', async () => {
    const dataDir = join(dir, 'solo')
    const path = file('solo.toml', [
      'name = "solo"', `data-dir = "${dataDir}"`, 'group = "from-file"', 'listen = ["/ip4/127.0.0.1/tcp/0"]',
      'mdns = false', 'dht = false', 'log-level = "warn"', ''
    ].join('\n'))
    const child = spawn(process.execPath, [MURMURD, '--config', path], { env: { ...process.env, ...isolated() }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise(resolve => child.on('exit', resolve))
    try {
      const status = await waitFor(async () => {
        if (child.exitCode != null) throw new Error(`murmurd exited ${child.exitCode}: ${stderr}`)
        const result = await run(process.execPath, [MURMURCTL, '--socket', join(dataDir, 'murmurd.sock'), 'status', '--json'])
        return result.code === 0 ? JSON.parse(result.stdout) : undefined
      }, 'murmurd started from solo.toml')
      assert.deepEqual([status.name, status.group], ['solo', 'from-file'])
    } finally {
      child.kill('SIGTERM')
      await exited
    }
  })
})
