/**
 * Closed groups on real murmurd processes (127.0.0.1, driven by murmurctl):
 * only members holding the group's swarm key connect, and with an allow-list
 * only the listed peer IDs, in either direction. Outsiders get no connection
 * and no data either way, while members keep replicating. The error a refused
 * dial reports varies from run to run, so the tests assert "no connection".
 */
import '../src/polyfill.js'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { Murmur, createMurmur } from '../src/index.js'
import { MURMURCTL, MURMURD, TestCluster, run, waitFor, type TestNode } from './harness.js'

const murmurd = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Awaited<ReturnType<typeof run>>> =>
  await run(process.execPath, [MURMURD, '--name', 'x', '--no-mdns', '--no-dht', ...args], { env: { ...process.env, ...env }, timeoutMs: 20_000 })

/** Writes a new swarm key file with the real `murmurctl keygen`. */
async function keygen (path: string): Promise<string> {
  const result = await run(process.execPath, [MURMURCTL, 'keygen', path])
  assert.equal(result.code, 0, result.stderr)
  return path
}

/** Gives a node its identity before its first start, so other nodes can allow it by peer ID. */
async function identity (node: TestNode): Promise<string> {
  mkdirSync(node.dataDir, { recursive: true, mode: 0o700 })
  const key = await generateKeyPair('Ed25519')
  writeFileSync(join(node.dataDir, 'peer.key'), privateKeyToProtobuf(key), { mode: 0o600 })
  return peerIdFromPrivateKey(key).toString()
}

async function connectedIds (node: TestNode): Promise<string[]> {
  return (await node.json<Array<{ id: string }>>(['peers'])).map(peer => peer.id).sort()
}

const withoutPeerId = (addr: string): string => addr.replace(/\/p2p\/[^/]+$/, '')

/** A write on `from` shows up on `to`: the members are connected and replicating. */
async function replicates (from: TestNode, to: TestNode, key: string): Promise<void> {
  await from.put(key, `${from.name} at ${Date.now()}`)
  await waitFor(async () => await to.value(key) !== undefined, `${key} from ${from.name} to reach ${to.name}`)
}

/**
 * Dials both ways, by full address and without the peer ID. The member's own
 * dials always fail. The outsider's fail too when it lacks the swarm key; an
 * allow-list, though, can only refuse a peer once noise has authenticated it,
 * by which time the outsider's side may count the dial a success: the member
 * closes it at once (`assertSealed` checks that nothing remains).
 */
async function dialBothWays (member: TestNode, outsider: TestNode, outsiderDialFails: boolean): Promise<void> {
  const [memberAddr, outsiderAddr] = [await member.addr(), await outsider.addr()]
  const dials = [
    ...[memberAddr, withoutPeerId(memberAddr)].map(addr => ({ from: outsider, addr, mustFail: outsiderDialFails })),
    ...[outsiderAddr, withoutPeerId(outsiderAddr)].map(addr => ({ from: member, addr, mustFail: true }))
  ]
  await Promise.all(dials.map(async ({ from, addr, mustFail }) => {
    const result = await from.ctl(['connect', addr])
    if (mustFail) assert.equal(result.code, 1, `${from.name} must not connect to ${addr}: ${result.stdout}`)
  }))
}

/** Members keep their data to themselves and take nothing from outsiders; outsiders see no one. */
async function assertSealed (members: TestNode[], outsiders: TestNode[]): Promise<void> {
  const memberIds = await Promise.all(members.map(async node => (await node.status()).id as string))
  for (const [i, node] of members.entries()) {
    const others = memberIds.filter((_, j) => j !== i).sort()
    assert.deepEqual(await connectedIds(node), others, `${node.name} is connected to the other members only`)
    assert.doesNotMatch(await node.list(), /^outsider:/m, `${node.name} took no outsider's write`)
  }
  for (const node of outsiders) {
    await waitFor(async () => (await connectedIds(node)).length === 0, `${node.name} to have no connection`)
    assert.equal((await node.status()).peers, 0, `${node.name} has no group member`)
    assert.equal(await node.list(), `outsider:${node.name} = mine\n`, `${node.name} holds nothing of the group`)
  }
}

describe('closed groups', () => {
  const cluster = new TestCluster()
  after(async () => { await cluster.close() })

  it('refuses a bad swarm key or allow-list with one line and exit code 2', async () => {
    const file = (name: string, text: string): string => {
      const path = join(cluster.dir, name)
      writeFileSync(path, text)
      return path
    }
    const hex = 'ab'.repeat(32)
    const someId = await identity(cluster.node('someone'))
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--swarm-key', join(cluster.dir, 'missing.key')], {}, /cannot read swarm key .*missing\.key: ENOENT/],
      [['--swarm-key', file('header.key', `/key/swarm/psk/2.0.0/\n/base16/\n${hex}\n`)], {}, /swarm key .*header\.key is malformed: the first line/],
      [['--swarm-key', file('codec.key', `/key/swarm/psk/1.0.0/\n/base64/\n${hex}\n`)], {}, /malformed: the second line must be \/base16\//],
      [['--swarm-key', file('short.key', `/key/swarm/psk/1.0.0/\n/base16/\n${hex.slice(2)}\n`)], {}, /malformed: the third line must be the key/],
      [['--swarm-key', file('extra.key', `/key/swarm/psk/1.0.0/\n/base16/\n${hex}\nmore\n`)], {}, /malformed: unexpected text after the key/],
      [[], { MURMUR_SWARM_KEY: file('empty.key', '') }, /swarm key .*empty\.key is malformed/],
      // set but blank must never mean an open node
      [[], { MURMUR_SWARM_KEY: '' }, /--swarm-key is empty \(is MURMUR_SWARM_KEY blank\?\)/],
      [[], { MURMUR_ALLOW: ' , ' }, /--allow lists no peer IDs/],
      [['--allow-file', ''], {}, /--allow-file is empty/],
      [['--allow', 'not-a-peer-id'], {}, /invalid peer ID "not-a-peer-id" in --allow/],
      [[], { MURMUR_ALLOW: `${someId},12D3KooWbogus` }, /invalid peer ID "12D3KooWbogus" in --allow/],
      [['--allow-file', file('bad.allow', `# members\n${someId}\n\nQmNotAPeer # typo\n`)], {}, /invalid peer ID "QmNotAPeer" in .*bad\.allow line 4/],
      [['--allow-file', join(cluster.dir, 'missing.allow')], {}, /cannot read --allow-file .*missing\.allow: ENOENT/],
      [['--allow-file', file('comments.allow', '# nobody yet\n\n')], {}, /comments\.allow lists no peer IDs/]
    ]
    await Promise.all(cases.map(async ([args, env, message]) => {
      const result = await murmurd(['--data-dir', join(cluster.dir, 'never-started'), ...args], env)
      const what = `${args.join(' ')} ${JSON.stringify(env)}`
      assert.equal(result.code, 2, `${what}: ${result.stderr}`)
      assert.match(result.stderr, message, what)
      assert.equal(result.stderr.trim().split('\n').length, 1, `one line for ${what}: ${result.stderr}`)
    }))
  })

  it('tells the library which peer IDs are allowed: the listed ones and the node itself, or any without a list', async () => {
    const [listed, other] = [await identity(cluster.node('lib-listed')), await identity(cluster.node('lib-other'))]
    assert.throws(() => new Murmur({ name: 'lib', dataDir: join(cluster.dir, 'lib'), allow: ['junk'] }), { name: 'ConfigError', message: /invalid peer ID "junk"/ })
    const open = new Murmur({ name: 'lib-open', dataDir: join(cluster.dir, 'lib-open') })
    assert.equal(open.isAllowed(other), true)
    const node = await createMurmur({ name: 'lib', dataDir: join(cluster.dir, 'lib'), listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, dht: false, allow: [listed] })
    try {
      assert.deepEqual([node.isAllowed(node.peerId), node.isAllowed(listed), node.isAllowed(other)], [true, true, false])
      assert.deepEqual(node.status().access, { swarmKey: false, allowList: 2 })
    } finally {
      await node.stop()
    }
  })

  it('admits only peers holding the swarm key; no key or a wrong key gets no connection and no data', async () => {
    const key = await keygen(join(cluster.dir, 'group.key'))
    const wrongKey = await keygen(join(cluster.dir, 'wrong.key'))
    const alice = await cluster.start('key-alice', { args: ['--swarm-key', key] })
    const aliceAddr = await alice.addr()
    const [bob, nokey, wrong] = await Promise.all([
      cluster.start('key-bob', { peers: [aliceAddr], env: { ...process.env, MURMUR_SWARM_KEY: key } }),
      cluster.start('key-nokey', { peers: [aliceAddr] }),
      cluster.start('key-wrong', { peers: [aliceAddr], args: ['--swarm-key', wrongKey] })
    ])
    await waitFor(() => alice.stdout.includes(`--peer ${aliceAddr} --swarm-key <the same key file>`), 'the banner to tell how to join with the key')
    assert.deepEqual((await alice.status()).access, { swarmKey: true })
    assert.deepEqual((await bob.status()).access, { swarmKey: true })
    assert.deepEqual((await nokey.status()).access, { swarmKey: false })
    assert.match((await alice.ctl(['status'])).stdout, /^access: +closed: swarm key, no allow-list$/m)
    await Promise.all([nokey, wrong].map(async node => { await node.put(`outsider:${node.name}`, 'mine') }))
    await replicates(alice, bob, 'group:from-alice')
    await replicates(bob, alice, 'group:from-bob')

    // the outsiders' --peer dialers keep trying meanwhile; every direct dial fails too
    await Promise.all([dialBothWays(alice, nokey, true), dialBothWays(alice, wrong, true), dialBothWays(bob, wrong, true)])

    await replicates(alice, bob, 'group:still-working')
    await cluster.converged([alice, bob], 3)
    await assertSealed([alice, bob], [nokey, wrong])

    // a stranger's own libp2p node, dialling without a peer ID: it fails before noise, so it learns not even whom it reached
    const aliceId = (await alice.status()).id as string
    const stranger = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
    try {
      await assert.rejects(stranger.dial(multiaddr(withoutPeerId(aliceAddr))), 'no connection without the key')
      assert.deepEqual((await stranger.peerStore.all()).map(peer => peer.id.toString()).filter(id => id === aliceId), [], 'alice\'s peer ID stays unknown')
      assert.equal(stranger.getConnections().length, 0)
    } finally {
      await stranger.stop()
    }
  })

  it('admits only allow-listed peer IDs, whichever side dials; members keep working', async () => {
    const [alice, bob, carol] = [cluster.node('allow-alice'), cluster.node('allow-bob'), cluster.node('allow-carol')]
    const [aliceId, bobId] = [await identity(alice), await identity(bob)]
    const unrelatedId = await identity(cluster.node('allow-unrelated'))
    const allowFile = join(cluster.dir, 'bob.allow')
    writeFileSync(allowFile, `# who may talk to bob\n${aliceId}   # alice\n\n`)

    await alice.start({ env: { ...process.env, MURMUR_ALLOW: `${bobId},${unrelatedId}` } })
    const aliceAddr = await alice.addr()
    // carol has no allow-list of her own: only the members' gates keep her out
    await Promise.all([
      bob.start({ peers: [aliceAddr], args: ['--allow-file', allowFile, '--allow', unrelatedId] }),
      carol.start({ peers: [aliceAddr] })
    ])
    assert.deepEqual((await alice.status()).access, { swarmKey: false, allowList: 3 }, 'bob, the unrelated peer, and alice herself')
    assert.deepEqual((await bob.status()).access, { swarmKey: false, allowList: 3 })
    assert.deepEqual((await carol.status()).access, { swarmKey: false })
    assert.match((await bob.ctl(['status'])).stdout, /^access: +closed: no swarm key, allow-list of 3 peers \(this node included\)$/m)
    assert.match((await bob.ctl(['status'])).stdout, /^members: +3 \(this node included\)$/m, 'the allow-list is the membership garbage collection waits for')
    assert.match((await carol.ctl(['status'])).stdout, /^access: +open: any peer may connect$/m)
    await carol.put('outsider:allow-carol', 'mine')
    await replicates(alice, bob, 'group:from-alice')
    await replicates(bob, alice, 'group:from-bob')

    await Promise.all([dialBothWays(alice, carol, false), dialBothWays(bob, carol, false)])

    await replicates(bob, alice, 'group:still-working')
    await cluster.converged([alice, bob], 3)
    await assertSealed([alice, bob], [carol])
  })
})
