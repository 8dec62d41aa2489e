/**
 * murmurd's configuration in-process: flags over the `MURMUR_*` environment
 * a caller passes in (never `process.env`), and what the environment's
 * booleans mean. No node is started.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildCommand, parseConfig, type DaemonConfig } from '../src/config.js'
import { ConfigError } from '../src/errors.js'
import { main } from '../src/main.js'
import type { Env } from '@murmur/protocol'

const config = (argv: string[], env: Env = {}): DaemonConfig =>
  parseConfig(buildCommand().exitOverride(), ['--name', 'x', ...argv], env)

/** Runs `main` with `env` as its whole environment; only for configurations it refuses, so no node starts. */
async function refused (argv: string[], env: Env): Promise<{ code: number, stderr: string }> {
  let stderr = ''
  const code = await main(argv, {
    env,
    stdout: () => {},
    stderr: text => { stderr += text },
    exit: () => assert.fail('a refused configuration must not exit through io.exit')
  })
  return { code, stderr }
}

describe('murmurd configuration', () => {
  it('main() reads MURMUR_* from the env it is given', async () => {
    const { code, stderr } = await refused([], { MURMUR_NAME: 'x', MURMUR_GROUP: 'bad group!' })
    assert.equal(code, 2)
    assert.equal(stderr, 'murmurd: invalid --group "bad group!": use 1-64 letters, digits, \'.\', \'_\' or \'-\', starting with a letter or digit (set by MURMUR_GROUP)\n')
  })

  it('names the variable a bad value came from, and not one a flag overrode', () => {
    assert.throws(() => config([], { MURMUR_PEER_LINKS: 'x' }), { name: 'ConfigError', message: 'invalid --peer-links "x": expected a positive whole number (set by MURMUR_PEER_LINKS)' })
    assert.throws(() => config([], { MURMUR_LISTEN: 'nowhere' }), { message: /^invalid --listen "nowhere": .* \(set by MURMUR_LISTEN\)$/ })
    // blank, it must not leave the node listening nowhere
    assert.throws(() => config([], { MURMUR_LISTEN: ' ' }), { name: 'ConfigError', message: /^--listen lists no address \(is MURMUR_LISTEN blank\?\)/ })
    assert.throws(() => config(['--peer-links', 'y'], { MURMUR_PEER_LINKS: '3' }), { message: 'invalid --peer-links "y": expected a positive whole number' })
  })

  it('never reads MURMUR_* from process.env', () => {
    const set = { MURMUR_GROUP: 'from-process', MURMUR_NO_MDNS: '1', MURMUR_LISTEN: '/ip4/127.0.0.1/tcp/1' }
    const saved = Object.keys(set).map(name => [name, process.env[name]] as const)
    Object.assign(process.env, set)
    try {
      const { group, mdns, listen } = config([])
      assert.deepEqual({ group, mdns, listen }, { group: 'default', mdns: true, listen: ['/ip4/0.0.0.0/tcp/0'] })
    } finally {
      for (const [name, value] of saved) {
        if (value === undefined) Reflect.deleteProperty(process.env, name)
        else process.env[name] = value
      }
    }
  })

  it('takes values from the environment, and flags over them', () => {
    const env = { MURMUR_GROUP: 'g', MURMUR_LISTEN: '/ip4/127.0.0.1/tcp/1, /ip4/127.0.0.1/tcp/2', MURMUR_DURABILITY: 'normal' }
    const fromEnv = config([], env)
    assert.equal(fromEnv.group, 'g')
    assert.deepEqual(fromEnv.listen, ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2'])
    assert.equal(fromEnv.durability, 'normal')
    const flagged = config(['--group', 'h', '--listen', '/ip4/127.0.0.1/tcp/3', '--durability', 'full'], env)
    assert.deepEqual(flagged.listen, ['/ip4/127.0.0.1/tcp/3'], 'a repeatable flag replaces the variable, not adds to it')
    assert.equal(flagged.group, 'h')
    assert.equal(flagged.durability, 'full')
    assert.throws(() => config([], { MURMUR_DURABILITY: 'sometimes' }), { name: 'ConfigError', message: 'invalid MURMUR_DURABILITY "sometimes": expected one of full, normal' })
  })

  it('takes an anti-entropy bound no shorter than the interval, or leaves it to the node', () => {
    assert.equal(config([]).antiEntropyMaxIntervalMs, undefined)
    assert.equal(config(['--anti-entropy-max-interval', '20000'], { MURMUR_ANTI_ENTROPY_INTERVAL: '2000' }).antiEntropyMaxIntervalMs, 20_000)
    assert.throws(() => config(['--anti-entropy-interval', '2000', '--anti-entropy-max-interval', '1000']), { name: 'ConfigError', message: 'invalid --anti-entropy-max-interval "1000": shorter than --anti-entropy-interval (2000 ms); give at least that' })
    assert.throws(() => config([], { MURMUR_ANTI_ENTROPY_MAX_INTERVAL: 'soon' }), ConfigError)
  })

  it('takes a publish window from 0 (at once) to 1000 ms, 5 by default, and refuses anything else naming the range', () => {
    assert.equal(config([]).publishWindowMs, 5)
    assert.equal(config(['--publish-window', '0']).publishWindowMs, 0)
    assert.equal(config([], { MURMUR_PUBLISH_WINDOW: '1000' }).publishWindowMs, 1000)
    for (const bad of ['-1', '1001', '2.5', 'soon', '']) {
      assert.throws(() => config(['--publish-window', bad]), { name: 'ConfigError', message: `invalid --publish-window "${bad}": expected a whole number of ms from 0 (publish at once) to 1000` }, bad)
    }
  })

  it('takes how many links the dialer fills from the peer book and discovery, 8 by default, at least 1', () => {
    assert.equal(config([]).peerLinks, 8)
    assert.equal(config(['--peer-links', '2']).peerLinks, 2)
    assert.equal(config([], { MURMUR_PEER_LINKS: '100' }).peerLinks, 100)
    for (const bad of ['0', '-1', '2.5', 'many', '0x10', '1e3', ' 5']) {
      assert.throws(() => config(['--peer-links', bad]), { name: 'ConfigError', message: `invalid --peer-links "${bad}": expected a positive whole number` }, bad)
    }
  })

  it('takes how often a node at its links swaps one (ms), 10 minutes by default, 0 for never', () => {
    assert.equal(config([]).peerRotateMs, 600_000)
    assert.equal(config(['--peer-rotate', '0']).peerRotateMs, 0)
    assert.equal(config([], { MURMUR_PEER_ROTATE: '5000' }).peerRotateMs, 5000)
    for (const bad of ['-1', '2.5', 'often', '']) {
      assert.throws(() => config(['--peer-rotate', bad]), { name: 'ConfigError', message: `invalid --peer-rotate "${bad}": expected a whole number (0 or more)` }, bad)
    }
  })

  // the waits of sync and the snapshot gate, which tests shorten: production keeps the defaults
  for (const [flag, env, attribute, fallback] of [['--stuck-wait', 'MURMUR_STUCK_WAIT', 'stuckMs', 30_000], ['--pull-stale', 'MURMUR_PULL_STALE', 'pullStaleMs', 30_000], ['--sync-stall', 'MURMUR_SYNC_STALL', 'syncStallMs', 20_000]] as const) {
    it(`takes ${flag} (ms), ${fallback} by default, at least 1`, () => {
      assert.equal(config([])[attribute], fallback)
      assert.equal(config([flag, '2000'])[attribute], 2000)
      assert.equal(config([], { [env]: '3000' })[attribute], 3000)
      for (const bad of ['0', '-1', '2.5', 'soon', '']) {
        assert.throws(() => config([flag, bad]), { name: 'ConfigError', message: `invalid ${flag} "${bad}": expected a positive whole number` }, bad)
      }
    })
  }

  it('takes --ping-timeout (ms), 10000 by default, at least 1000', () => {
    assert.equal(config([]).pingTimeoutMs, 10_000)
    assert.equal(config(['--ping-timeout', '1000']).pingTimeoutMs, 1_000)
    assert.equal(config([], { MURMUR_PING_TIMEOUT: '30000' }).pingTimeoutMs, 30_000)
    for (const bad of ['999', '0', '-1', '2.5', 'soon', '']) {
      assert.throws(() => config(['--ping-timeout', bad]), { name: 'ConfigError', message: `invalid --ping-timeout "${bad}": expected a whole number of ms, at least 1000` }, bad)
    }
  })

  it('reads MURMUR_NO_MDNS and MURMUR_NO_DHT as booleans: 1/true/yes/on turn off, 0/false/no/off leave on', () => {
    for (const value of ['0', 'false', 'no', 'off', 'FALSE', 'Off']) {
      const { mdns, dht } = config([], { MURMUR_NO_MDNS: value, MURMUR_NO_DHT: value })
      assert.deepEqual({ mdns, dht }, { mdns: true, dht: true }, value)
    }
    for (const value of ['1', 'true', 'yes', 'on', 'TRUE', 'Yes']) {
      const { mdns, dht } = config([], { MURMUR_NO_MDNS: value, MURMUR_NO_DHT: value })
      assert.deepEqual({ mdns, dht }, { mdns: false, dht: false }, value)
    }
    const { mdns, dht } = config([])
    assert.deepEqual({ mdns, dht }, { mdns: true, dht: true }, 'both on when unset')
  })

  it('reads --relay, MURMUR_RELAY (1/true/yes/on, 0/false/no/off) and relay = true in a config file; off by default', () => {
    assert.equal(config([]).relay, false)
    assert.equal(config(['--relay']).relay, true)
    for (const value of ['1', 'yes', 'ON']) assert.equal(config([], { MURMUR_RELAY: value }).relay, true, value)
    for (const value of ['0', 'no', 'off']) assert.equal(config([], { MURMUR_RELAY: value }).relay, false, value)
    assert.throws(() => config([], { MURMUR_RELAY: 'maybe' }), { name: 'ConfigError', message: 'invalid MURMUR_RELAY "maybe": expected 1/true/yes/on to turn it on, or 0/false/no/off to leave it off' })
  })

  it('refuses a blank data dir or socket, never taking the working directory for it', () => {
    for (const [argv, env, flag, variable] of [
      [[], { MURMUR_DATA_DIR: '' }, '--data-dir', 'MURMUR_DATA_DIR'],
      [['--data-dir', ' '], {}, '--data-dir', 'MURMUR_DATA_DIR'],
      [[], { MURMUR_SOCKET: '' }, '--socket', 'MURMUR_SOCKET'],
      [['--socket', ''], {}, '--socket', 'MURMUR_SOCKET']
    ] as const) {
      assert.throws(() => config([...argv], env), { name: 'ConfigError', message: new RegExp(`^${flag} is empty \\(is ${variable} blank\\?\\); give a`) }, `${argv.join(' ')} ${JSON.stringify(env)}`)
    }
  })

  it('lets --no-mdns and --no-dht win over a variable that leaves them on', () => {
    const { mdns, dht } = config(['--no-mdns', '--no-dht'], { MURMUR_NO_MDNS: '0', MURMUR_NO_DHT: 'false' })
    assert.deepEqual({ mdns, dht }, { mdns: false, dht: false })
  })

  it('refuses any other boolean value with one line naming the variable and the accepted values, exit code 2', async () => {
    for (const [name, value] of [['MURMUR_NO_MDNS', 'maybe'], ['MURMUR_NO_DHT', ''], ['MURMUR_NO_MDNS', '2']] as const) {
      assert.throws(() => config([], { [name]: value }), ConfigError, `${name}=${value}`)
      const { code, stderr } = await refused(['--name', 'x'], { [name]: value })
      assert.equal(code, 2)
      assert.equal(stderr, `murmurd: invalid ${name} "${value}": expected 1/true/yes/on to turn it off, or 0/false/no/off to leave it on\n`)
    }
  })
})
