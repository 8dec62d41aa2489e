/**
 * A relay cannot read or alter what it relays (README, Security: Relays), tried
 * the way a hostile relay would, in Linux network namespaces
 * (`netns-cluster.sh nat-up`): alice and bob sit on two private LANs behind
 * their own NAT routers, so the only path between them is a circuit relay on
 * the segment between the routers; the relay is not murmur's but
 * tap-relay.js, whose noise hands it every byte it decrypts or writes (the
 * relayed streams included) and which, told to, flips a bit in each large
 * frame it relays. An open group pointed at it with --peer uses it like a
 * member's relay. Needs root, iproute2 and nftables; skipped otherwise. All
 * traffic stays inside the namespaces the test makes.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { waitFor, type TestNode } from './harness.js'
import { NetnsCluster } from './netns.js'
import { relayedAddr } from './relaying.js'

const skip = NetnsCluster.available()
const TAP_RELAY = fileURLToPath(new URL('./tap-relay.js', import.meta.url))
const [RELAY, LAN_A, LAN_B] = [1, 3, 5]

/** A value of about 200 kB made of `token`: its relayed frames are large enough for the relay to alter. */
const bigValue = (token: string): string => `${token} `.repeat(6_000)

describe('a relay cannot read or alter what it relays (network namespaces)', { skip }, () => {
  let net: NetnsCluster
  let relay: ChildProcess
  let relayId: string
  let relayAddr: string
  let tapFile: string
  let altered = 0
  let unparsed = 0
  let alice: TestNode
  let bob: TestNode
  let aliceId: string
  const tokens: string[] = []
  const token = (): string => { const t = randomBytes(16).toString('hex'); tokens.push(t); return t }

  before(async () => {
    net = await NetnsCluster.create(0, 'nat')
    tapFile = join(net.nodes.dir, 'tap.bin')
    relay = spawn('ip', ['netns', 'exec', net.namespace(RELAY), process.execPath, TAP_RELAY, net.addr(RELAY), tapFile], { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines = createInterface({ input: relay.stdout! })
    const first = new Promise<string>((resolve, reject) => {
      lines.once('line', resolve)
      relay.once('exit', code => { reject(new Error(`tap-relay exited (${code}) before printing its address`)) })
    })
    lines.on('line', line => {
      if (line.startsWith('altered ')) altered = Number(line.slice('altered '.length))
      if (line === 'unparsed') unparsed++
    })
    relayAddr = await first
    relayId = relayAddr.slice(relayAddr.lastIndexOf('/p2p/') + '/p2p/'.length)
  })
  after(async () => {
    if (relay?.exitCode == null && relay?.signalCode == null) {
      const exited = new Promise(resolve => relay.once('exit', resolve))
      relay.kill('SIGTERM')
      const timer = setTimeout(() => relay.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
    await net?.close()
    assert.deepEqual(net?.leftovers() ?? [], [], 'the namespaces are removed')
  })

  it('alice and bob reach each other only through the relay', async () => {
    alice = await net.start(LAN_A, 'alice', { args: ['--peer', relayAddr] })
    aliceId = (await alice.status()).id
    const aliceRelayed = await relayedAddr(alice, relayId, 30_000)
    bob = await net.start(LAN_B, 'bob', { args: ['--peer', relayAddr, '--peer', aliceRelayed] })
    const link = await waitFor(async () => (await bob.json<any[]>(['peers'])).find(p => p.id === aliceId && p.member), 'bob to hold alice as a member', 60_000, 200)
    assert.equal(link.connection, 'relayed')
    assert.equal(link.relay, relayId)
    assert.equal(await net.probe(LAN_B, LAN_A), false, 'bob cannot reach alice directly')
    assert.equal(await net.probe(LAN_A, LAN_B), false, 'alice cannot reach bob directly')
  })

  it('what alice writes reaches bob through the relay, and the relay reads none of it', async () => {
    const tappedBefore = statSync(tapFile).size
    const big = { key: `vault/${token()}`, value: bigValue(token()) }
    const small = { key: `note/${token()}`, value: token() }
    await alice.rpc('kv_put', big)
    await alice.rpc('kv_put', small)
    await waitFor(async () => await bob.value(big.key) === big.value && await bob.value(small.key) === small.value, 'alice\'s writes to reach bob', 60_000, 200)
    const link = (await bob.json<any[]>(['peers'])).find(p => p.id === aliceId)
    assert.equal(link?.connection, 'relayed', 'they came over the relayed connection, the only one bob has to alice')

    const seen = readFileSync(tapFile)
    console.log(`# the relay decrypted or wrote ${seen.length} bytes, ${seen.length - tappedBefore} while alice's ${big.value.length + small.value.length} bytes of values crossed it`)
    for (const t of tokens) assert.equal(seen.includes(t), false, `the relay read ${t}, part of a key or value it relayed`)
    // and not because the tap is blind: it reads the relay's own protocol in the clear, and the relayed streams' bytes
    // (a relayed connection negotiates its encryption in the clear, inside the relay's hop stream)
    assert.ok(seen.includes('/libp2p/circuit/relay/0.2.0/hop\n'), 'the tap reads the relay\'s own plaintext')
    assert.ok(seen.includes('/noise\n'), 'the tap reads what the relayed streams carry')
    assert.ok(seen.length - tappedBefore >= big.value.length, 'the value crossed the relay (encrypted)')
  })

  it('relayed bytes the relay alters are refused, never stored, and the two converge once it stops', async () => {
    const key = (await bob.entries('vault/'))[0]?.key as string
    const before = await bob.value(key)
    const after = bigValue(token())
    const countedBefore = altered
    const bobLogged = bob.stderr.length
    relay.kill('SIGUSR1')
    await alice.rpc('kv_put', { key, value: after })
    const wrong: string[] = []
    const onBob = async (): Promise<unknown> => {
      const value = await bob.value(key)
      if (value !== before && value !== after) wrong.push(String(value))
      return value
    }
    await waitFor(async () => { await onBob(); return altered >= countedBefore + 3 }, 'the relay to alter relayed frames', 60_000, 100)
    relay.kill('SIGUSR2')
    console.log(`# the relay altered ${altered - countedBefore} frames; bob read ${key} as alice wrote it or not at all`)
    assert.equal(unparsed, 0, 'the relay followed every connection\'s frames')
    // the altered frames reached bob: noise found them forged and ended the relayed connection they came on
    await waitFor(() => bob.stderr.slice(bobLogged).includes(`"peer":"${aliceId}","peerName":"alice","msg":"group member disconnected"`), 'bob to drop a relayed connection to alice the relay altered', 30_000)
    await waitFor(async () => await onBob() === after, 'alice\'s write to reach bob once the relay stops altering', 90_000, 200)
    assert.deepEqual(wrong.map(value => value.slice(0, 80)), [], `bob never holds an altered value for ${key}`)
    assert.deepEqual(bob.userRows(), alice.userRows(), 'alice and bob converge')
    const seen = readFileSync(tapFile)
    for (const t of tokens) assert.equal(seen.includes(t), false, `the relay read ${t}`)
  })
})
