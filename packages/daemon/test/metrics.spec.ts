/**
 * `murmurd --metrics`: real daemons on 127.0.0.1 scraped over HTTP, each
 * scrape parsed and checked as Prometheus text format; counters that move
 * when a put replicates; per-peer series that leave with their peer; and the
 * flag refused for bad values, with a clear start error for a port in use;
 * embedded nodes' registries kept apart; and the scrape checker itself.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { performance } from 'node:perf_hooks'
import { MurmurClient } from '@murmur/protocol'
import { createMurmur, type Murmur, type NodeMetrics } from '../src/index.js'
import { MURMURD, TestCluster, root, run, waitFor, type TestNode } from './harness.js'
import { get, metricsUrl, observations, parseExposition, samples, scrape, value } from './prometheus.js'

const METRICS = ['--metrics', '127.0.0.1:0']

describe('murmurd --metrics', () => {
  const cluster = new TestCluster()
  let alice: TestNode
  let bob: TestNode
  let aliceUrl: string
  let bobUrl: string

  before(async () => {
    alice = await cluster.start('alice', { args: METRICS })
    // bob publishes each write as it is acknowledged (alice keeps the default window)
    bob = await cluster.start('bob', { args: [...METRICS, '--publish-window', '0'], peers: [await alice.addr()] })
    aliceUrl = await metricsUrl(() => alice.stdout)
    bobUrl = await metricsUrl(() => bob.stdout)
    await waitFor(async () => (await alice.status()).peers === 1 && (await bob.status()).peers === 1, 'alice and bob to connect')
  })
  after(async () => { await cluster.close() })

  it('serves every metric family the operator needs, in valid Prometheus text format', async () => {
    assert.match(aliceUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
    const families = await scrape(aliceUrl)
    for (const name of [
      'murmur_node_info', 'murmur_ops_written_total', 'murmur_ops_gossiped_total', 'murmur_ops_repaired_total',
      'murmur_ops_refused_total', 'murmur_gossip_messages_rejected_total', 'murmur_gossip_messages_throttled_total', 'murmur_gossip_ops_charged_total',
      'murmur_ops_held', 'murmur_ops_waiting',
      'murmur_gossip_messages_published_total', 'murmur_gossip_ops_published_total', 'murmur_gossip_publish_window_seconds',
      'murmur_peer_ops_behind', 'murmur_peer_ops_ahead', 'murmur_peer_last_sync_age_seconds', 'murmur_peer_clock_offset_seconds',
      'murmur_sync_pulls_total', 'murmur_sync_pull_duration_seconds', 'murmur_peers_connected', 'murmur_members_connected',
      'murmur_keys', 'murmur_tombstones', 'murmur_database_size_bytes', 'murmur_wal_size_bytes', 'murmur_write_ack_seconds',
      'murmur_rpc_requests_total', 'process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds'
    ]) assert.ok(families.has(name), `the scrape has ${name}`)
    const status = await alice.status()
    assert.equal(value(families, 'murmur_node_info', { name: 'alice', peer_id: status.id, group: 'default' }), 1)
    assert.ok(value(families, 'murmur_database_size_bytes') > 0, 'the database size is read from the file')
    assert.equal(value(families, 'murmur_members_connected'), 1)
    assert.equal(value(families, 'murmur_peers_connected', { via: 'inbound' }), 1, 'bob dialled alice')
    assert.equal(value(await scrape(bobUrl), 'murmur_peers_connected', { via: 'explicit' }), 1, 'bob found alice through --peer')
    assert.ok(value(families, 'process_resident_memory_bytes') > 0)
    // the HELP text names every trigger the README's Metrics table lists
    const row = readFileSync(join(root, 'README.md'), 'utf8').split('\n').find(line => line.startsWith('| `murmur_sync_pulls_total`')) ?? ''
    const triggers = [...(/`trigger` is (.*?); `outcome`/.exec(row)?.[1] ?? '').matchAll(/`([a-z-]+)`/g)].map(m => m[1] as string)
    assert.ok(triggers.length >= 6, `the README lists the triggers: ${triggers.join(', ')}`)
    for (const trigger of triggers) assert.match(families.get('murmur_sync_pulls_total')?.help ?? '', new RegExp(`\\b${trigger}\\b`), `HELP names ${trigger}`)
  })

  it('counts a put on the writer and its replication on the other node', async () => {
    const aliceBefore = await scrape(aliceUrl)
    const bobBefore = await scrape(bobUrl)
    await alice.put('metrics:k', 'v')
    await waitFor(async () => await bob.value('metrics:k') === 'v', 'the put to reach bob')
    const aliceAfter = await scrape(aliceUrl)
    const bobAfter = await scrape(bobUrl)

    assert.ok(value(aliceAfter, 'murmur_ops_written_total') > value(aliceBefore, 'murmur_ops_written_total'), 'alice counts the op she wrote')
    assert.equal(value(aliceAfter, 'murmur_rpc_requests_total', { method: 'kv_put', code: 'ok' }) - value(aliceBefore, 'murmur_rpc_requests_total', { method: 'kv_put', code: 'ok' }), 1)
    assert.ok(observations(aliceAfter, 'murmur_write_ack_seconds') > observations(aliceBefore, 'murmur_write_ack_seconds'), 'the acknowledgement was timed')
    assert.equal(value(aliceAfter, 'murmur_keys') - value(aliceBefore, 'murmur_keys'), 1)

    const applied = (families: typeof bobAfter): number => value(families, 'murmur_ops_gossiped_total') + value(families, 'murmur_ops_repaired_total')
    assert.ok(applied(bobAfter) > applied(bobBefore), 'bob counts the op that replicated, by gossip or sync')
    assert.equal(value(bobAfter, 'murmur_keys') - value(bobBefore, 'murmur_keys'), 1)
    assert.ok(observations(bobAfter, 'murmur_sync_pull_duration_seconds') >= 1, 'bob pulled from alice when they connected')
    assert.ok(value(bobAfter, 'murmur_sync_pulls_total', { trigger: 'connect' }) >= 1)
    const lag = samples(bobAfter, 'murmur_peer_last_sync_age_seconds', { name: 'alice' })
    assert.equal(lag.length, 1, 'one lag series for alice')
    assert.ok(Number(lag[0]?.value) >= 0)
    assert.equal(samples(bobAfter, 'murmur_peer_clock_offset_seconds', { name: 'alice' }).length, 1)
    assert.equal(samples(bobAfter, 'murmur_peer_ops_ahead', { name: 'alice' }).length, 1)
  })

  it('publishes puts that come faster than one per 5 ms a few to a gossip message, and every one arrives', async () => {
    const before = await scrape(aliceUrl)
    const client = await MurmurClient.connect(alice.socket)
    const started = performance.now()
    try {
      // one at a time, each acknowledged (fsynced) before the next: no two share a commit
      for (let i = 0; i < 300; i++) await client.call('kv_put', { key: `burst:${String(i).padStart(3, '0')}`, value: 'v' })
    } finally {
      client.close()
    }
    const elapsed = performance.now() - started
    await waitFor(async () => (await bob.ctl(['list', '--prefix', 'burst:'])).stdout.trim().split('\n').length === 300, 'all 300 puts to reach bob')
    const after = await scrape(aliceUrl)
    const messages = value(after, 'murmur_gossip_messages_published_total') - value(before, 'murmur_gossip_messages_published_total')
    const ops = value(after, 'murmur_gossip_ops_published_total') - value(before, 'murmur_gossip_ops_published_total')
    assert.ok(ops >= 300, `every put was published (${ops} ops)`)
    // one message, then at most one per 5 ms window (4 ms: timers keep whole milliseconds): where puts came faster, fewer messages than puts
    assert.ok(messages <= Math.ceil(elapsed / 4) + 2, `${messages} messages for ${ops} ops in ${elapsed.toFixed(0)} ms`)
    // the window it waited: the 5 ms set, widened (up to 20 ms) only as far as its publishes were dear
    const window = value(after, 'murmur_gossip_publish_window_seconds')
    assert.ok(window >= 0.005 && window <= 0.02, `alice's window ${window} s`)
  })

  it('with --publish-window 0 publishes each sequential put in a message of its own', async () => {
    const before = await scrape(bobUrl)
    const client = await MurmurClient.connect(bob.socket)
    try {
      for (let i = 0; i < 300; i++) await client.call('kv_put', { key: `solo:${String(i).padStart(3, '0')}`, value: 'v' })
    } finally {
      client.close()
    }
    await waitFor(async () => (await alice.ctl(['list', '--prefix', 'solo:'])).stdout.trim().split('\n').length === 300, 'all 300 puts to reach alice')
    const after = await scrape(bobUrl)
    const messages = value(after, 'murmur_gossip_messages_published_total') - value(before, 'murmur_gossip_messages_published_total')
    const ops = value(after, 'murmur_gossip_ops_published_total') - value(before, 'murmur_gossip_ops_published_total')
    assert.ok(ops >= 300, `every put was published (${ops} ops)`)
    // each put is acknowledged, published on the next turn, and only then answered to the client, which sends the next
    assert.ok(messages >= 300, `${messages} messages for ${ops} ops: none waited for a window`)
    assert.equal(value(after, 'murmur_gossip_publish_window_seconds'), 0, 'a 0 ms window never widens')
  })

  it('counts RPC errors by method and code', async () => {
    const before = await scrape(aliceUrl)
    assert.equal((await alice.ctl(['put', '', 'v'])).code, 1)
    const after = await scrape(aliceUrl)
    const invalid = { method: 'kv_put', code: '-32602' }
    assert.equal(value(after, 'murmur_rpc_requests_total', invalid) - value(before, 'murmur_rpc_requests_total', invalid), 1)
  })

  it('drops the series of a peer that disconnects', async () => {
    assert.equal(samples(await scrape(aliceUrl), 'murmur_peer_ops_behind', { name: 'bob' }).length, 1)
    await bob.stop()
    const families = await waitFor(async () => {
      const scraped = await scrape(aliceUrl)
      return value(scraped, 'murmur_members_connected') === 0 ? scraped : undefined
    }, 'alice to see bob leave')
    for (const name of ['murmur_peer_ops_behind', 'murmur_peer_ops_ahead', 'murmur_peer_last_sync_age_seconds', 'murmur_peer_clock_offset_seconds']) {
      assert.equal(samples(families, name).length, 0, `${name} has no series left`)
    }
  })

  it('answers only GET and HEAD on /metrics', async () => {
    assert.equal((await get(aliceUrl.replace(/\/metrics$/, '/'))).status, 404)
    assert.equal((await get(aliceUrl, { method: 'POST' })).status, 405)
    const head = await get(aliceUrl, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(await head.text(), '')
  })
})

describe('murmurd --metrics refused', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })
  const murmurd = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Awaited<ReturnType<typeof run>>> =>
    await run(process.execPath, [MURMURD, '--name', 'm', '--data-dir', join(cluster.dir, 'm'), '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht', ...args],
      { env: { ...process.env, ...env }, timeoutMs: 20_000 })

  it('refuses a bad value or a host name, in the flag or MURMUR_METRICS, with one line and exit code 2', async () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--metrics', 'example.com:9464'], {}, /^murmurd: invalid --metrics "example\.com:9464": "example\.com" is not an IP address .*; expected <port> \(served on 127\.0\.0\.1, e\.g\. 9464\) or <ip>:<port>/],
      [['--metrics', '127.0.0.1:99999'], {}, /^murmurd: invalid --metrics "127\.0\.0\.1:99999": the port must be 0 to 65535; expected/],
      [[], { MURMUR_METRICS: 'my.host:1' }, /^murmurd: invalid --metrics "my\.host:1": "my\.host" is not an IP address/]
    ]
    for (const [args, env, message] of cases) {
      const result = await murmurd(args, env)
      assert.equal(result.code, 2, `${args.join(' ')} ${JSON.stringify(env)}: ${result.stderr}`)
      assert.match(result.stderr, message)
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line: ${result.stderr}`)
    }
    assert.equal(existsSync(join(cluster.dir, 'm')), false, 'nothing was started')
  })

  it('says the port is in use, exits 1, and leaves no socket behind', async () => {
    const taken = createServer()
    await new Promise<void>(resolve => taken.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = taken.address() as AddressInfo
      const result = await murmurd(['--metrics', `127.0.0.1:${port}`])
      assert.equal(result.code, 1, result.stderr)
      assert.equal(result.stderr, `murmurd: cannot serve metrics on 127.0.0.1:${port}: address in use; choose another --metrics port, or 0 for any free port\n`)
      assert.equal(existsSync(join(cluster.dir, 'm', 'murmurd.sock')), false)
      assert.equal(existsSync(join(cluster.dir, 'm', 'murmurd.pid')), false, 'the data dir lock was released')
    } finally {
      await new Promise(resolve => taken.close(resolve))
    }
  })
})

describe('the scrape checker', () => {
  const ok = '# HELP c a counter\n# TYPE c counter\nc{k="v"} 1\n# HELP h a histogram\n# TYPE h histogram\nh_bucket{le="1",k="a"} 1\nh_bucket{le="+Inf",k="a"} 2\nh_sum{k="a"} 3\nh_count{k="a"} 2\nh_bucket{le="1",k="b"} 0\nh_bucket{le="+Inf",k="b"} 0\nh_sum{k="b"} 0\nh_count{k="b"} 0\n'

  it('reads every series of a labelled histogram', () => {
    const families = parseExposition(ok)
    assert.deepEqual(samples(families, 'h', { k: 'a' }), [{ labels: { k: 'a' }, buckets: { 1: '1', '+Inf': '2' }, sum: '3', count: '2' }])
    assert.equal(observations(families, 'h'), 2)
  })

  it('refuses what Prometheus would refuse or misread', () => {
    const cases: Array<[string, RegExp]> = [
      ['c{k="v" 1\n', /invalid line/],
      ['# HELP u x\nu 1\n', /u: no # TYPE line/],
      ['# TYPE c counter\nc 1\n', /c: no # HELP text/],
      ['# HELP c x\n# TYPE c counter\nc -1\n', /c: counter at -1/],
      ['# HELP g x\n# TYPE g gauge\ng one\n', /g: value "one" is not a number/],
      [ok.replace('h_bucket{le="+Inf",k="a"} 2', 'h_bucket{le="+Inf",k="a"} 0'), /h: bucket counts not cumulative/],
      [ok.replace('h_count{k="a"} 2', 'h_count{k="a"} 5'), /h: \+Inf bucket differs from _count/],
      [ok.replace('h_bucket{le="+Inf",k="b"} 0\n', ''), /h: no \+Inf bucket/],
      [`${ok}# HELP c again\n# TYPE c counter\nc 2\n`, /c: declared twice/]
    ]
    for (const [text, message] of cases) assert.throws(() => parseExposition(text), message, text)
  })
})

describe('metrics of embedded nodes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-metrics-lib-'))
  const nodes: Murmur[] = []
  after(async () => {
    await Promise.all(nodes.map(async node => await node.stop()))
    rmSync(dir, { recursive: true, force: true })
  })

  it('keeps each node\'s metrics apart in one process, and none without metrics: true', async () => {
    const start = async (name: string, metrics?: boolean): Promise<Murmur> => {
      const node = await createMurmur({ name, dataDir: join(dir, name), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, ...(metrics != null ? { metrics } : {}) })
      nodes.push(node)
      return node
    }
    const [a, b, c] = [await start('a', true), await start('b', true), await start('c')]
    assert.equal(c.metrics, undefined)
    await a.put('k', 'v')
    const [ta, tb] = [parseExposition(await (a.metrics as NodeMetrics).text()), parseExposition(await (b.metrics as NodeMetrics).text())]
    assert.equal(value(ta, 'murmur_node_info', { name: 'a' }), 1)
    assert.equal(value(tb, 'murmur_node_info', { name: 'b' }), 1)
    assert.equal(samples(tb, 'murmur_node_info', { name: 'a' }).length, 0)
    assert.equal(value(ta, 'murmur_keys'), 1)
    assert.equal(value(tb, 'murmur_keys'), 0)
    assert.ok(ta.has('process_cpu_user_seconds_total') && tb.has('process_cpu_user_seconds_total'), 'both scrapes carry the process metrics')
  })
})
