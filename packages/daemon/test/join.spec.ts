/**
 * Joining with one ticket, on real murmurd and murmurctl processes on
 * 127.0.0.1 (mDNS and DHT off): `murmurctl invite` prints a ticket, and
 * `murmurd --join <ticket>` joins with nothing else, keeps the group, the key
 * (mode 0600) and the peers in its data dir, and restarts with no flags. A bad
 * ticket is one line on stderr, exit code 2, and nothing written.
 */
import '../src/polyfill.js'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { decodeTicket, encodeTicket, parseSwarmKey } from '@murmur/protocol'
import { ConfigError } from '../src/errors.js'
import { createMurmur } from '../src/index.js'
import { MURMURCTL, MURMURD, TestCluster, run, waitFor, type TestNode } from './harness.js'

const cluster = new TestCluster()
after(async () => { await cluster.close() })

const murmurd = async (args: string[]): Promise<Awaited<ReturnType<typeof run>>> =>
  await run(process.execPath, [MURMURD, '--no-mdns', '--no-dht', '--listen', '/ip4/127.0.0.1/tcp/0', ...args], { timeoutMs: 20_000 })

async function invite (node: TestNode, ...args: string[]): Promise<{ ticket: string, notes: string }> {
  const result = await node.ctl(['invite', ...args])
  assert.equal(result.code, 0, result.stderr)
  assert.equal(result.stdout.trim().split('\n').length, 1, 'the ticket alone on stdout')
  return { ticket: result.stdout.trim(), notes: result.stderr }
}

async function replicates (from: TestNode, to: TestNode, key: string): Promise<void> {
  await from.put(key, from.name)
  await waitFor(async () => await to.value(key) === from.name, `${key} from ${from.name} to reach ${to.name}`)
}

/** What a data dir holds, file by file, to check that a refused ticket wrote nothing. */
function snapshot (dir: string): Record<string, string | undefined> {
  const files = ['group.json', 'swarm.key', 'peers.json']
  return Object.fromEntries(files.map(file => [file, existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : undefined]))
}

/** Exit 2, one line on stderr containing `expected`, and no data dir made. */
function refused (result: Awaited<ReturnType<typeof run>>, expected: RegExp): void {
  assert.equal(result.code, 2, `exit code 2 expected: ${result.stderr}`)
  const lines = result.stderr.trim().split('\n')
  assert.equal(lines.length, 1, `one line expected: ${result.stderr}`)
  assert.match(lines[0] as string, expected)
}

describe('joining with a ticket', () => {
  let alice: TestNode
  let aliceKey: Uint8Array
  let ticket: string

  it('murmurctl invite prints a closed group\'s ticket, says it is a secret, and it holds the group, the key and alice\'s address', async () => {
    const keyFile = join(cluster.dir, 'team.key')
    assert.equal((await run(process.execPath, [MURMURCTL, 'keygen', keyFile])).code, 0)
    aliceKey = parseSwarmKey(readFileSync(keyFile, 'utf8'))
    alice = await cluster.start('alice', { group: 'team', args: ['--swarm-key', keyFile] })
    const made = await invite(alice, '--expires', '2h')
    ticket = made.ticket
    assert.match(made.notes, /SECRET/)
    assert.match(made.notes, /murmurd --name <name> --join <ticket>/)
    const decoded = decodeTicket(ticket)
    const status = await alice.status()
    assert.equal(decoded.group, 'team')
    assert.equal(decoded.inviter, status.id)
    assert.deepEqual(decoded.addrs, status.addrs)
    assert.deepEqual(decoded.swarmKey, aliceKey)
    const hours = (decoded.expires - Date.now()) / 3_600_000
    assert.ok(hours > 1.9 && hours <= 2.01, `expires in ${hours} h`)
    assert.doesNotMatch(made.notes, /allow-list/)
    const json = await alice.json(['invite', '--expires', '30m'])
    assert.equal(json.closed, true)
    assert.equal(json.allowList, false)
    assert.equal(decodeTicket(json.ticket).group, 'team')
  })

  it('murmurd --join joins with nothing else, keeps the key 0600 and the peers, and restarts with no flags', async () => {
    const dave = await cluster.start('dave', { args: ['--join', ticket] })
    await replicates(alice, dave, 'from-alice')
    await replicates(dave, alice, 'from-dave')
    const status = await dave.status()
    assert.equal(status.group, 'team')
    assert.equal(status.access.swarmKey, true)
    assert.equal(statSync(join(dave.dataDir, 'swarm.key')).mode & 0o777, 0o600)
    assert.deepEqual(parseSwarmKey(readFileSync(join(dave.dataDir, 'swarm.key'), 'utf8')), aliceKey)
    assert.equal(JSON.parse(readFileSync(join(dave.dataDir, 'group.json'), 'utf8')).group, 'team')
    const peers = await dave.json<Array<{ id: string, via: string }>>(['peers'])
    assert.deepEqual(peers.map(p => [p.id, p.via]), [[(await alice.status()).id, 'ticket']])

    assert.equal(await dave.stop(), 0)
    await alice.put('while-dave-was-away', 'yes')
    await dave.start() // no --join, --group or --swarm-key
    await waitFor(async () => await dave.value('while-dave-was-away') === 'yes', 'dave to catch up after a restart with no flags')
    assert.equal((await dave.status()).group, 'team')
    const printed = await run(process.execPath, [MURMURD, '--name', 'dave', '--data-dir', dave.dataDir, '--print-config'])
    assert.match(printed.stdout, /^group = "team" {2}# the data dir/m)
    assert.match(printed.stdout, /^swarm-key = ".*swarm\.key" {2}# the data dir .*never printed/m)
    const withTicket = await run(process.execPath, [MURMURD, '--name', 'dave', '--data-dir', dave.dataDir, '--join', ticket, '--print-config'])
    assert.match(withTicket.stdout, /^# join = <a ticket, not printed> {2}# --join$/m)
    assert.doesNotMatch(withTicket.stdout, new RegExp(ticket.slice(1, 30)))
    assert.equal(await dave.stop(), 0)
  })

  it('an open group\'s ticket carries no key, and invite says the group is open', async () => {
    const bob = await cluster.start('bob')
    const made = await invite(bob)
    assert.match(made.notes, /is open/)
    assert.doesNotMatch(made.notes, /SECRET/)
    const decoded = decodeTicket(made.ticket)
    assert.equal(decoded.swarmKey, undefined)
    assert.ok(Math.abs(decoded.expires - Date.now() - 24 * 3_600_000) < 60_000, 'valid for 24 h by default')
    const carol = await cluster.start('carol', { args: ['--join', made.ticket] })
    await replicates(bob, carol, 'open-join')
    assert.equal(existsSync(join(carol.dataDir, 'swarm.key')), false)
    const gina = await cluster.start('gina', { args: ['--allow', (await alice.status()).id] })
    assert.match((await invite(gina)).notes, /allow-list: the new node is refused until its peer ID/)
    const bad = await bob.ctl(['invite', '--expires', 'soon'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--expires/)
  })

  it('a ticket does not get past an allow-list: a node that joins with one, key and all, but is not on the list connects to no one and takes nothing', async () => {
    const keyFile = join(cluster.dir, 'kim.key')
    assert.equal((await run(process.execPath, [MURMURCTL, 'keygen', keyFile])).code, 0)
    // kim's list names alice only (and kim herself): whoever joins with kim's ticket is a stranger to her
    const kim = await cluster.start('kim', { args: ['--swarm-key', keyFile, '--allow', (await alice.status()).id] })
    await kim.put('kim:private', 'for the listed only')
    const made = await invite(kim)
    assert.ok(decodeTicket(made.ticket).swarmKey !== undefined, 'the ticket carries the key')
    assert.match(made.notes, /allow-list: the new node is refused until its peer ID/)
    const hank = await cluster.start('hank', { args: ['--join', made.ticket] })
    assert.equal((await hank.status()).access.swarmKey, true, 'hank holds the key')
    // noise authenticates hank before kim's list can refuse him, so his side may count the dial a success: kim closes it
    await hank.ctl(['connect', await kim.addr()])
    await waitFor(async () => (await hank.json<unknown[]>(['peers'])).length === 0, 'hank to hold no connection')
    assert.equal((await hank.ctl(['get', 'kim:private'])).code, 4, 'hank took nothing')
    const hankId = (await hank.status()).id as string
    assert.ok(!(await kim.json<Array<{ id: string }>>(['peers'])).some(peer => peer.id === hankId), 'kim is connected to no hank')
  })

  it('a genuine ticket whose addresses lead to impostors joins no one: the key, then noise, refuse them, and nothing is taken', async () => {
    const keyFile = join(cluster.dir, 'team.key')
    const aliceId = (await alice.status()).id as string
    // ivan: a group of the same name without the key; ivy: the key, under an identity of her own
    const ivan = await cluster.start('ivan', { group: 'team' })
    await ivan.put('ivan:bait', 'from an impostor')
    const ivy = await cluster.start('ivy', { group: 'team', args: ['--swarm-key', keyFile] })
    await ivy.put('ivy:bait', 'from the wrong identity')
    const as = (addr: string, id: string): string => addr.replace(/\/p2p\/[^/]+$/, `/p2p/${id}`)
    const [ivanAddr, ivyAddr] = [await ivan.addr(), await ivy.addr()]
    // alice's ticket, key and all (re-encoded, so its checksum holds), pointing at ivan as himself, at ivan as alice, at ivy as alice
    const forged = encodeTicket({ ...decodeTicket(ticket), addrs: [ivanAddr, as(ivanAddr, aliceId), as(ivyAddr, aliceId)] })
    const jill = await cluster.start('jill', { args: ['--join', forged] })
    const ivanId = (await ivan.status()).id as string
    // each address dialled and refused: ivan's by the key (he has none), alice's identity at ivan's and at ivy's address by noise
    await waitFor(() => [ivanId, aliceId].every(id => jill.stderr.split('\n').some(line => line.includes('cannot reach peer') && line.includes(id))), 'jill to fail to reach the ticket\'s peers', 20_000)
    assert.deepEqual(await jill.json<unknown[]>(['peers']), [], 'jill is connected to no one')
    assert.equal((await jill.status()).peers, 0)
    for (const key of ['ivan:bait', 'ivy:bait']) assert.equal((await jill.ctl(['get', key])).code, 4, `jill took ${key}`)
    const jillId = (await jill.status()).id as string
    for (const node of [ivan, ivy]) assert.ok(!(await node.json<Array<{ id: string }>>(['peers'])).some(peer => peer.id === jillId), `${node.name} holds no connection to jill`)
    for (const node of [jill, ivan, ivy]) await node.stop()
  })

  it('refuses malformed, damaged, expired and other-group tickets: one line, exit 2, nothing written', async () => {
    const fresh = (name: string): string[] => ['--name', name, '--data-dir', join(cluster.dir, name)]
    const flipped = ticket.slice(0, 40) + (ticket[40] === 'a' ? 'b' : 'a') + ticket.slice(41)
    // the same bytes, mistyped where no byte is: a character added after them, or the last one's spare bit flipped
    const base32 = 'abcdefghijklmnopqrstuvwxyz234567'
    const retyped = ((ticket.length - 1) * 5) % 8 === 0 ? ticket + 'a' : ticket.slice(0, -1) + base32[base32.indexOf(ticket.at(-1) as string) ^ 1]
    const decoded = decodeTicket(ticket)
    const expired = encodeTicket({ ...decoded, expires: Date.now() - 1_000 })
    const cases: Array<[string, string[], RegExp]> = [
      ['garbage', ['--join', 'hello world'], /invalid --join ticket: not a murmur ticket/],
      ['base32 of nothing murmur', ['--join', 'bmfrggzdfmztwq2lk'], /invalid --join ticket: not a murmur ticket/],
      ['cut short', ['--join', ticket.slice(0, -6)], /invalid --join ticket: damaged ticket/],
      ['one character changed', ['--join', flipped], /invalid --join ticket: damaged ticket/],
      ['mistyped where no byte is', ['--join', retyped], /invalid --join ticket: damaged ticket/],
      ['expired', ['--join', expired], /invalid --join ticket: it expired at/],
      ['for another group', ['--group', 'other', '--join', ticket], /the ticket is for group "team", not "other"/],
      ['blank', ['--join', ' '], /--join is empty/]
    ]
    for (const [what, args, expected] of cases) {
      const name = `x${cases.findIndex(c => c[0] === what)}`
      refused(await murmurd([...fresh(name), ...args]), expected)
      assert.equal(existsSync(join(cluster.dir, name)), false, `${what}: no data dir made`)
    }
    // dave's data dir belongs to team: a ticket to another group changes nothing in it
    const dave = cluster.node('dave')
    const before = snapshot(dave.dataDir)
    const other = encodeTicket({ ...decoded, group: 'blue', expires: Date.now() + 60_000 })
    refused(await murmurd(['--name', 'dave', '--data-dir', dave.dataDir, '--join', other]), /already belongs to group "team"/)
    refused(await murmurd(['--name', 'dave', '--data-dir', dave.dataDir, '--group', 'blue']), /belongs to group "team" \(joined with a ticket\)/)
    assert.deepEqual(snapshot(dave.dataDir), before)
    // the ticket dave joined with, expired since, does not stop a restart
    const restarted = await cluster.start('dave', { args: ['--join', encodeTicket({ ...decoded, expires: Date.now() - 1_000 })] })
    assert.equal((await restarted.status()).group, 'team')
    await restarted.stop()
  })

  it('createMurmur({ join }) joins in-process; a bad ticket throws ConfigError and makes no data dir', async () => {
    const dataDir = join(cluster.dir, 'embedded')
    await assert.rejects(createMurmur({ name: 'e', dataDir, join: 'bnot' }), ConfigError)
    assert.equal(existsSync(dataDir), false)
    const node = await createMurmur({ name: 'e', dataDir, join: ticket, mdns: false, dht: false, listen: ['/ip4/127.0.0.1/tcp/0'] })
    try {
      assert.equal(node.group, 'team')
      await waitFor(() => node.peers().some(p => p.member), 'the embedded node to reach alice')
      await alice.put('to-embedded', 'hi')
      await waitFor(() => node.get('to-embedded') != null, 'alice\'s write to reach the embedded node')
      assert.equal(statSync(join(dataDir, 'swarm.key')).mode & 0o777, 0o600)
      assert.equal(node.status().access?.swarmKey, true)
    } finally {
      await node.stop()
    }
  })
})
