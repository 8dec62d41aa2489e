/**
 * The peer book (`peers.json`) keeps the members a node has met, and is not
 * written again by every sync handshake: only when a member's name, addresses
 * or source change, or its last-seen time is an hour stale. A restarted node
 * dials its members up to `--peer-links` links, not every one of them, and
 * backs off from a `--peer` that hangs up at once as from a failed dial. A
 * member on this host alone keeps its loopback address in the book, and an
 * entry mistyped by hand is dropped, not a failed start. A book that cannot
 * be written (a full disk) is a warning, and leaves no temporary file behind.
 */
import assert from 'node:assert/strict'
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { Attacker } from './attacker.js'
import { TestCluster, waitFor, type TestNode } from './harness.js'

/** Whether `path` exists, a dangling or device link included (existsSync follows links). */
function present (path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

/** `node` as a peer book (peers.json) entry. */
async function bookEntry (node: TestNode): Promise<{ id: string, name: string, addrs: string[], via: string, lastSeen: string }> {
  const status = await node.status()
  return { id: status.id, name: node.name, addrs: (status.addrs as string[]).map(a => a.replace(/\/p2p\/[^/]+$/, '')), via: 'peerbook', lastSeen: new Date().toISOString() }
}

/**
 * Stops a test's nodes once it is done with them: the file's tests start 25
 * murmurd, some pulling five times a second, which otherwise all run until
 * the file ends, beside the tests after them.
 */
async function stopAll (nodes: TestNode[]): Promise<void> {
  await Promise.all(nodes.map(async node => await node.stop()))
}

describe('peer book', () => {
  const cluster = new TestCluster()
  const doors: Attacker[] = []
  after(async () => {
    for (const door of doors) await door.stop()
    await cluster.close()
  })

  it('remembers a member once, not at every handshake', async () => {
    // handshakes every ~200 ms: each anti-entropy pull opens one (and a quiet group's pulls must not slow down)
    const args = ['--anti-entropy-interval', '200', '--anti-entropy-max-interval', '200']
    const alice = await cluster.start('alice', { args })
    const bob = await cluster.start('bob', { args, peers: [await alice.addr()] })
    const aliceId = (await alice.status()).id as string
    const book = join(bob.dataDir, 'peers.json')
    const entry = await waitFor(() => {
      try {
        return (JSON.parse(readFileSync(book, 'utf8')) as Array<{ id: string, name?: string, addrs: string[] }>).find(e => e.id === aliceId)
      } catch { return undefined }
    }, 'bob to write alice into its peer book')
    assert.equal(entry.name, 'alice')
    const written = statSync(book).mtimeMs
    // at least ten more handshakes with alice
    const syncs = new Set<string>()
    await waitFor(async () => {
      const sync = ((await bob.status()).peerSync as Array<{ id: string, lastSync?: string }>).find(p => p.id === aliceId)
      if (sync?.lastSync != null) syncs.add(sync.lastSync)
      return syncs.size >= 10
    }, 'ten sync handshakes between bob and alice', 20_000, 100)
    assert.equal(statSync(book).mtimeMs, written, 'peers.json was written again though nothing in it changed')
    await stopAll([alice, bob])
  })

  it('dials members from its peer book only up to --peer-links, and another when one goes away', async () => {
    const others = await Promise.all(['b1', 'b2', 'b3', 'b4'].map(async name => await cluster.start(name)))
    const ids = new Map<string, TestNode>()
    const entries = await Promise.all(others.map(async node => {
      const entry = await bookEntry(node)
      ids.set(entry.id, node)
      return entry
    }))
    const hub = cluster.node('hub')
    mkdirSync(hub.dataDir, { recursive: true })
    writeFileSync(join(hub.dataDir, 'peers.json'), JSON.stringify(entries))
    await hub.start({ args: ['--peer-links', '2', '--anti-entropy-interval', '200', '--anti-entropy-max-interval', '200'] })
    const linked = async (): Promise<string[]> => ((await hub.json(['peers'])) as Array<{ id: string }>).map(p => p.id).sort()
    const first = await waitFor(async () => { const now = await linked(); return now.length === 2 && now }, 'hub to connect to two of its four members')
    // ten sync handshakes later it still holds two links: it dialled no more
    const syncs = new Set<string>()
    await waitFor(async () => {
      for (const p of (await hub.status()).peerSync as Array<{ id: string, lastSync?: string }>) if (p.lastSync != null) syncs.add(`${p.id} ${p.lastSync}`)
      return syncs.size >= 10
    }, 'ten sync handshakes on the hub', 20_000, 100)
    assert.deepEqual(await linked(), first)
    const reached = await Promise.all(others.map(async node => (await node.status()).peers as number))
    assert.deepEqual(reached.sort(), [0, 0, 1, 1], 'two members never heard from the hub')
    // one of its links goes away: the hub dials one of the two it had not
    const gone = first[0] as string
    await ids.get(gone)?.stop('SIGKILL')
    const next = await waitFor(async () => { const now = await linked(); return now.length === 2 && !now.includes(gone) && now }, 'hub to replace the member that went away')
    assert.ok(next.includes(first[1] as string), 'the link that stayed is kept')
    await stopAll([hub, ...others])
  })

  it('swaps its dialled link for another member now and then (--peer-rotate), dialling the new one before the old goes', async () => {
    const members = await Promise.all(['r1', 'r2', 'r3'].map(async name => await cluster.start(name)))
    const rotor = cluster.node('rotor')
    mkdirSync(rotor.dataDir, { recursive: true })
    writeFileSync(join(rotor.dataDir, 'peers.json'), JSON.stringify(await Promise.all(members.map(bookEntry))))
    await rotor.start({ args: ['--peer-links', '1', '--peer-rotate', '1000'] })
    // with one link and a swap about every second, it comes to have dialled each of the three
    const seen = new Set<string>()
    await waitFor(async () => {
      const dialled = (await rotor.json<Array<{ id: string, dialled?: boolean }>>(['peers'])).filter(p => p.dialled === true).map(p => p.id)
      assert.ok(dialled.length <= 2, `${dialled.length} dialled links: one, and another while they are swapped`)
      for (const id of dialled) seen.add(id)
      return seen.size === 3
    }, 'the node to have dialled each of its three members in turn', 20_000, 100)
    await stopAll([rotor, ...members])
  })

  it('marks a relay in the peer book, and dials it whatever --peer-links says, so a node keeps its way in', async () => {
    const relay = await cluster.start('relay', { args: ['--relay'] })
    const relayStatus = await relay.status()
    // a member that met the relay notes it as one
    const x = await cluster.start('x', { peers: [relayStatus.addrs[0]] })
    const noted = await waitFor(() => {
      try {
        return (JSON.parse(readFileSync(join(x.dataDir, 'peers.json'), 'utf8')) as Array<{ id: string, relay?: boolean }>).find(e => e.id === relayStatus.id && e.relay === true)
      } catch { return undefined }
    }, 'x to note the relay as one in its peer book')
    assert.equal(noted.relay, true)
    // a node with one link to fill and five members in its book, one of them that relay: it dials the relay
    const plain = await Promise.all(['c1', 'c2', 'c3', 'c4'].map(async name => await cluster.start(name)))
    const entry = async (node: TestNode, relay: boolean): Promise<object> => {
      const status = await node.status()
      return { id: status.id, name: node.name, addrs: (status.addrs as string[]).map(a => a.replace(/\/p2p\/[^/]+$/, '')), via: 'peerbook', ...(relay ? { relay } : {}), lastSeen: new Date().toISOString() }
    }
    const lone = cluster.node('lone')
    mkdirSync(lone.dataDir, { recursive: true })
    writeFileSync(join(lone.dataDir, 'peers.json'), JSON.stringify([...await Promise.all(plain.map(async node => await entry(node, false))), await entry(relay, true)]))
    await lone.start({ args: ['--peer-links', '1'] })
    const linked = await waitFor(async () => {
      const peers = (await lone.json<Array<{ id: string, member: boolean }>>(['peers'])).filter(p => p.member)
      return peers.some(p => p.id === relayStatus.id) && peers
    }, 'lone to connect to the relay')
    assert.deepEqual(linked.map(p => p.id), [relayStatus.id], 'the relay filled its one link')
    await stopAll([lone, relay, x, ...plain])
  })

  it('keeps the address of a member on this host alone (loopback), and redials it after restarting on a new port', async () => {
    // every address on 127.0.0.1, as in the quick start: the book kept no address for a member that had dialled in
    const alice = await cluster.start('home')
    const bob = await cluster.start('visitor', { peers: [await alice.addr()] })
    const bobId = (await bob.status()).id as string
    const entry = await waitFor(() => {
      try {
        return (JSON.parse(readFileSync(join(alice.dataDir, 'peers.json'), 'utf8')) as Array<{ id: string, addrs: string[] }>).find(e => e.id === bobId)
      } catch { return undefined }
    }, 'home to write visitor into its peer book')
    assert.ok(entry.addrs.length > 0, `home keeps an address for visitor: ${JSON.stringify(entry)}`)
    // home comes back on another port: visitor's --peer address is stale, so only home's peer book joins them again
    await alice.stop()
    await alice.start()
    await waitFor(async () => (await alice.json<Array<{ id: string, member: boolean }>>(['peers'])).some(p => p.id === bobId && p.member), 'home to redial visitor from its peer book', 15_000, 200)
  })

  it('drops an entry with a mistyped peer ID or address and starts, dialling the others', async () => {
    const member = await cluster.start('listed')
    const good = await bookEntry(member)
    const edited = cluster.node('edited')
    mkdirSync(edited.dataDir, { recursive: true, mode: 0o700 })
    writeFileSync(join(edited.dataDir, 'peers.json'), JSON.stringify([{ ...good, id: 'not-a-peer-id' }, { ...good, addrs: ['127.0.0.1:4001'] }, good]))
    // a bad entry stopped murmurd with exit 1 (peerIdFromString, multiaddr thrown in Discovery.start)
    await edited.start()
    await waitFor(async () => (await edited.json<Array<{ id: string, member: boolean }>>(['peers'])).some(p => p.id === good.id && p.member), 'edited to dial the good entry')
    assert.match(edited.stderr, /peer book entries that are not a peer ID with multiaddrs are dropped/)
  })

  it('backs off from a --peer that hangs up at once, as from a member, and does not redial it in a tight loop', async () => {
    // a real libp2p node that closes every connection as it opens (a node that refuses us once connected)
    const door = await Attacker.start()
    doors.push(door)
    let opens = 0
    door.node.addEventListener('connection:open', event => {
      opens++
      void event.detail.close().catch(() => {})
    })
    const addr = door.node.getMultiaddrs()[0]?.toString() as string
    const dialler = await cluster.start('dialler', { peers: [addr] })
    await waitFor(() => opens >= 2, 'the --peer to be dialled again after it hung up')
    const counted = opens
    // a rate, over a fixed window: the backoff (doubling from 0.5 s, jittered ±50 %) allows at most 3 dials in 4 s;
    // a redial at every hang-up made 22 in 8 s here
    await new Promise(resolve => setTimeout(resolve, 4_000))
    assert.ok(opens - counted <= 4, `${opens - counted} connections in 4 s`)
    assert.match(dialler.stderr, /"target"/)
  })

  it('a peer book it cannot write (a full disk) is a warning, and leaves no peers.json.tmp behind', async () => {
    const hub = await cluster.start('seen')
    const full = cluster.node('full')
    mkdirSync(full.dataDir, { recursive: true, mode: 0o700 })
    // a write through this link fails with ENOSPC, as on a full disk, with nothing mounted
    const tmp = join(full.dataDir, 'peers.json.tmp')
    symlinkSync('/dev/full', tmp)
    await full.start({ peers: [await hub.addr()] })
    await waitFor(() => /cannot save the peer book/.test(full.stderr), 'full to warn that it cannot save its peer book', 15_000)
    assert.match(full.stderr, /ENOSPC/)
    assert.equal(present(tmp), false, 'the temporary file was removed')
    assert.equal(await full.stop(), 0, 'stopped cleanly')
    assert.equal(present(tmp), false)
    assert.equal(existsSync(join(full.dataDir, 'peers.json')), true, 'written at the stop, the disk no longer full')
  })
})
