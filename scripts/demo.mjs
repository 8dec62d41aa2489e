#!/usr/bin/env node
/**
 * `npm run demo`: three real murmurd processes (alice, bob, charlie) on
 * 127.0.0.1 play the reference scenario, driven only through murmurctl, and
 * every claim the output makes is checked. Exit 0 when every check passes;
 * otherwise a one-line reason on stderr, exit 1 (130 on Ctrl-C). Every wait
 * is polled against a deadline; the nodes and their temporary data dirs are
 * removed on every path out. The times it prints are read from the nodes'
 * SQLite files, polled every millisecond (scripts/demo-files.mjs), not
 * through murmurctl, whose own start would be counted.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DemoError, digest, fail, kvRows, timeCatchUp, timeReplication } from './demo-files.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const MURMURD = join(ROOT, 'packages/daemon/bin/murmurd.js')
const MURMURCTL = join(ROOT, 'packages/cli/bin/murmurctl.cjs')
const WAIT_MS = 20_000
const DEMO_DEADLINE_MS = 90_000
const POLL_MS = 100
/** How the timings in demo-files.mjs wait: as long as any other wait, and not past a node's death. */
const FILES = { timeoutMs: WAIT_MS, guard: () => { if (deaths.length > 0) fatal(deaths[0]) } }

// ── output ─────────────────────────────────────────────────────────────────

const colour = process.stdout.isTTY === true && process.env.NO_COLOR == null
const paint = code => text => colour ? `\x1b[${code}m${text}\x1b[0m` : text
const bold = paint('1')
const dim = paint('2')
const green = paint('32')
const red = paint('31')
const cyan = paint('36')
const yellow = paint('33')

const say = (text = '') => { process.stdout.write(text + '\n') }
const indent = text => text.split('\n').map(line => '  ' + line).join('\n')

let section = 0
function heading (title) {
  section++
  say()
  say(bold(cyan(`${section}. ${title}`)))
  say(dim('─'.repeat(Math.min(72, title.length + 4))))
}

let checks = 0
function passed (text) {
  checks++
  say(indent(`${green('✓')} ${text}`))
}

/** Left-aligned columns: a bold header, a rule, then the rows. */
function table (headers, rows) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(row => String(row[i]).length)))
  const line = cells => cells.map((cell, i) => i === cells.length - 1 ? String(cell) : String(cell).padEnd(widths[i])).join('  ')
  say(indent(bold(line(headers))))
  say(indent(dim(line(widths.map(w => '─'.repeat(w))))))
  for (const row of rows) say(indent(line(row)))
}

const shortId = id => `${id.slice(0, 8)}…${id.slice(-6)}`
const stamp = v => `${v.wall}.${v.logical}`
const withoutPeerId = addr => addr.replace(/\/p2p\/[^/]+$/, '')

/** A failure no amount of waiting fixes (a node died): `waitFor` gives up at once. */
const fatal = message => { throw Object.assign(new DemoError(message), { fatal: true }) }

// ── processes ──────────────────────────────────────────────────────────────

/** Every murmurd this demo started and has not yet seen exit. */
const running = new Set()
/** Why a node died that the demo did not stop: every wait gives up at once. */
const deaths = []

/** Runs a command to completion; SIGKILLs it after its deadline. */
function run (args, timeoutMs = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', d => { stdout += d })
    child.stderr.on('data', d => { stderr += d })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    child.on('error', err => { clearTimeout(timer); reject(err) })
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }) })
  })
}

/** Polls `check` until it returns something other than undefined/false; fails after `timeoutMs`. */
async function waitFor (check, what, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs
  let last
  while (Date.now() < deadline) {
    if (deaths.length > 0) fatal(deaths[0])
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
      last = undefined
    } catch (err) {
      if (err.fatal === true) throw err
      last = err
    }
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
  fail(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last != null ? ` (last error: ${last.message})` : ''}`)
}

class DemoNode {
  constructor (name, root) {
    this.name = name
    this.dataDir = join(root, name)
    this.child = undefined
    this.log = ''
  }

  /** Starts murmurd and waits until murmurctl gets an answer from it. */
  async start (peers = []) {
    const args = [MURMURD, '--name', this.name, '--data-dir', this.dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--no-dht', '--log-level', 'warn']
    for (const peer of peers) args.push('--peer', peer)
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    this.child = child
    this.log = ''
    // keep the tail only: enough to explain a failure
    const keep = d => { this.log = (this.log + d).slice(-4000) }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    running.add(child)
    this.stopping = false
    this.exited = new Promise(resolve => child.on('exit', (code, signal) => {
      running.delete(child)
      if (!this.stopping) deaths.push(this.died = `murmurd ${this.name} died unexpectedly (${signal ?? `exit code ${code}`})`)
      resolve({ code, signal })
    }))
    this.status = await waitFor(async () => {
      if (child.exitCode != null) fatal(`murmurd ${this.name} exited with code ${child.exitCode}:\n${this.log}`)
      return await this.json(['status'])
    }, `murmurd ${this.name} to answer murmurctl`)
    return this
  }

  get id () { return this.status.id }
  get addr () { return this.status.addrs[0] }

  async ctl (args) {
    return await run([MURMURCTL, '--data-dir', this.dataDir, ...args])
  }

  /** murmurctl … --json, parsed; fails on a non-zero exit. */
  async json (args) {
    const result = await this.ctl(['--json', ...args])
    if (result.code !== 0) fail(`murmurctl ${args.join(' ')} on ${this.name} exited ${result.code}: ${result.stderr.trim()}`)
    return JSON.parse(result.stdout)
  }

  async list () {
    const result = await this.ctl(['list'])
    if (result.code !== 0) fail(`murmurctl list on ${this.name} exited ${result.code}: ${result.stderr.trim()}`)
    return result.stdout
  }

  /** The kv_store rows of this node's SQLite file, read-only, as `sqlite3` would show them. */
  rows () {
    return kvRows(this.dataDir)
  }

  /** SIGTERM, then waits for the exit; murmurd promises exit code 0. */
  async stop () {
    if (this.child == null || !running.has(this.child)) return
    this.stopping = true
    this.child.kill('SIGTERM')
    let timer
    const timeout = new Promise(resolve => { timer = setTimeout(resolve, 10_000) })
    const exit = await Promise.race([this.exited, timeout])
    clearTimeout(timer)
    if (exit == null) fail(`murmurd ${this.name} did not exit within 10 s of SIGTERM`)
    const { code, signal } = exit
    if (code !== 0) fail(`murmurd ${this.name} exited with ${code ?? signal} after SIGTERM, expected 0:\n${this.log}`)
  }
}

/** On any way out: SIGTERM what is still running, SIGKILL what ignores it, remove the data. */
async function cleanUp (root) {
  const children = [...running]
  for (const child of children) child.kill('SIGTERM')
  const deadline = Date.now() + 5000
  while (running.size > 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
  for (const child of running) child.kill('SIGKILL')
  if (root != null) rmSync(root, { recursive: true, force: true })
}

// ── checks on what the nodes hold ──────────────────────────────────────────

const lineCount = text => text.split('\n').filter(line => line !== '').length

/** Waits until every node prints the same `murmurctl list` with at least `minKeys` lines. */
async function converged (nodes, minKeys, what) {
  return await waitFor(async () => {
    const lists = await Promise.all(nodes.map(async node => await node.list()))
    return lists.every(list => list === lists[0]) && lineCount(lists[0]) >= minKeys ? lists[0] : undefined
  }, what)
}

/**
 * Waits until the kv_store rows of every node's SQLite file are identical:
 * the user's keys and the members' attestations (keys under U+0000), which
 * settle a second or so after the last write.
 */
async function identicalRows (nodes, what) {
  return await waitFor(() => {
    const summaries = nodes.map(node => {
      const rows = node.rows()
      const records = rows.filter(([key]) => key.startsWith('\u0000')).length
      return { node, rows: rows.length - records, records, sha: digest(rows) }
    })
    return summaries.every(s => s.sha === summaries[0].sha) ? summaries : undefined
  }, what)
}

function sqliteTable (summaries) {
  table(['node', 'keys', 'attestations', 'sha256 of kv_store rows', 'file'], summaries.map(s => [s.node.name, s.rows, s.records, s.sha.slice(0, 32) + '…', join(s.node.dataDir, 'murmur.db')]))
}

/** The higher (wall, logical, origin) wins; the answer says which field decided. */
function compareVersions (a, b) {
  if (a.wall !== b.wall) return { order: Math.sign(a.wall - b.wall), rule: 'the higher HLC wall time (ms)' }
  if (a.logical !== b.logical) return { order: Math.sign(a.logical - b.logical), rule: 'equal wall times, so the higher HLC logical counter' }
  return { order: a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0, rule: 'equal HLC stamps, so the higher origin peer ID' }
}

// ── the scenario ───────────────────────────────────────────────────────────

async function put (node, key, value) {
  const { version } = await node.json(['put', key, value])
  say(indent(`${node.name.padEnd(7)}  put ${key.padEnd(15)} = ${value.padEnd(23)} ${dim(`hlc ${stamp(version)}  seq ${version.seq}`)}`))
  return version
}

async function writeAll (node, pairs) {
  for (const [key, value] of pairs) await put(node, key, value)
}

function joined (node, via) {
  say(indent(`${yellow('→')} ${bold(node.name)} joined: peer ${shortId(node.id)}, listening on ${withoutPeerId(node.addr)}${via != null ? `, --peer ${via.name}` : ''}`))
}

async function scenario (root, nodes) {
  const { alice, bob, charlie } = nodes
  const all = [alice, bob, charlie]
  const started = Date.now()
  const nameOf = id => all.find(node => node.status?.id === id)?.name ?? shortId(id)

  say(bold('murmur demo: three nodes on 127.0.0.1, driven only through murmurctl'))
  say(dim(`data dirs under ${root}`))

  heading('Who joined')
  await alice.start()
  table(['node', 'peer id', 'address', 'data dir'], [[alice.name, shortId(alice.id), withoutPeerId(alice.addr), alice.dataDir]])
  say(indent(dim('bob and charlie join in step 2, each dialling alice\'s address from `murmurctl status --json`')))

  heading('Writes, while bob and charlie join')
  await writeAll(alice, [['project:name', 'MyAwesomeProject'], ['project:version', '1.0.0'], ['db:host', 'localhost'], ['db:port', '5432'], ['user:alice', 'alice']])
  await bob.start([alice.addr])
  joined(bob, alice)
  const seen = await converged([alice, bob], 5, 'bob to catch up on alice\'s 5 keys')
  passed(`bob sees alice's ${lineCount(seen)} keys, written before he joined:`)
  say(indent(indent(dim(seen.trimEnd()))))
  await writeAll(bob, [['project:version', '1.1.0'], ['api:endpoint', 'https://api.example.com'], ['api:timeout', '30'], ['user:bob', 'bob']])
  await charlie.start([alice.addr])
  joined(charlie, alice)
  await waitFor(async () => (await charlie.json(['status'])).peers >= 1, 'charlie to connect to alice')
  await writeAll(charlie, [['db:port', '3306'], ['cache:enabled', 'true'], ['cache:ttl', '3600']])
  const [toAlice, toBob] = await timeReplication([charlie, alice, bob], 'user:charlie', async () => await put(charlie, 'user:charlie', 'charlie'), FILES)
  passed(`charlie's last write reached alice ${toAlice.toFixed(1)} ms and bob ${toBob.toFixed(1)} ms after it was committed on charlie`)
  say(indent(dim("  timed in each node's murmur.db, read every millisecond from before the put, so no murmurctl call counts")))

  heading('Connected peers and roles')
  await waitFor(async () => (await alice.json(['status'])).peers >= 2 && (await charlie.json(['status'])).peers >= 1, 'alice to be connected to bob and charlie')
  const views = await Promise.all(all.map(async node => ({ node, status: await node.json(['status']), peers: await node.json(['peers']) })))
  const peerList = peers => peers.map(p => `${p.name ?? nameOf(p.id)}${p.via != null ? ` (${p.via})` : ''}`).sort().join(', ') || '(none)'
  table(['node', 'peer id', 'connected to (found via)', 'mode', 'role', 'coordinator'], views.map(({ node, status, peers }) => [
    node.name, shortId(status.id), peerList(peers), status.mode, status.role, nameOf(status.coordinator)
  ]))
  say(indent(dim('murmur is leaderless: every node accepts writes. Each node names as coordinator the lowest')))
  say(indent(dim('peer ID it can see (itself and its connected peers), so views may differ; nothing waits for it.')))

  heading('The shared configuration, as every node sees it')
  const list = await converged(all, 11, 'the three `murmurctl list` outputs to be identical')
  // the same entry, version included, on each node: ✓; anything else would show ✗
  const [entries, ...others] = await Promise.all(all.map(async node => await node.json(['list'])))
  const mark = (entry, list) => list.some(e => JSON.stringify(e) === JSON.stringify(entry)) ? '✓' : '✗'
  table(['key', 'value', 'written by', 'alice', 'bob', 'charlie'], entries.map(e => [e.key, e.value, nameOf(e.version.origin), '✓', mark(e, others[0]), mark(e, others[1])]))
  passed(`converged: \`murmurctl list\` identical on all 3 nodes (${lineCount(list)} keys)`)
  const expected = ['api:endpoint = https://api.example.com', 'api:timeout = 30', 'cache:enabled = true', 'cache:ttl = 3600', 'db:host = localhost', 'db:port = 3306', 'project:name = MyAwesomeProject', 'project:version = 1.1.0', 'user:alice = alice', 'user:bob = bob', 'user:charlie = charlie', ''].join('\n')
  if (list !== expected) fail(`the converged list is not the reference one:\n${list}`)
  passed('the values are the reference ones (project:version = 1.1.0 from bob, db:port = 3306 from charlie)')

  heading('Consistency of the three SQLite files')
  sqliteTable(await identicalRows(all, 'identical kv_store rows in the three SQLite files'))
  passed('SQLite kv_store rows identical on all 3 nodes')

  heading('Concurrent writes to one key')
  say(indent('alice puts counter=100 and bob puts counter=200 at the same moment:'))
  const [fromAlice, fromBob] = await Promise.all([alice.json(['put', 'counter', '100']), bob.json(['put', 'counter', '200'])])
  say()
  const writes = [{ node: alice, value: '100', version: fromAlice.version }, { node: bob, value: '200', version: fromBob.version }]
  table(['writer', 'value', 'wall (ms)', 'logical', 'origin'], writes.map(w => [w.node.name, w.value, w.version.wall, w.version.logical, w.version.origin]))
  const { order, rule } = compareVersions(fromAlice.version, fromBob.version)
  const [winner, loser] = order > 0 ? writes : [writes[1], writes[0]]
  say()
  const seenCounter = await waitFor(async () => {
    const got = await Promise.all(all.map(async node => await node.json(['get', 'counter', '--meta'])))
    return got.every(e => e.value === winner.value && JSON.stringify(e.version) === JSON.stringify(winner.version)) ? got : undefined
  }, `every node to settle on counter = ${winner.value}`)
  table(['node', 'counter', 'hlc', 'origin'], all.map((node, i) => [node.name, seenCounter[i].value, stamp(seenCounter[i].version), nameOf(seenCounter[i].version.origin)]))
  passed(`counter = ${winner.value} on alice, bob and charlie (winner: ${winner.node.name})`)
  say(indent(`  why: last writer wins on ${rule}: ${winner.node.name}'s ${stamp(winner.version)} beats ${loser.node.name}'s ${stamp(loser.version)}${rule.includes('peer ID') ? ` (${shortId(winner.version.origin)} > ${shortId(loser.version.origin)})` : ''}.`))
  say(indent(dim('  Every node applies the same rule to the same two versions, whatever order they arrive in.')))
  await identicalRows(all, 'identical kv_store rows after the conflict')
  passed('SQLite kv_store rows still identical after the conflict')
  // the loser stays in every node's history, marked a conflict exactly when the winner's writer had not seen it
  const marks = history => JSON.stringify(history.versions.map(v => [v.version, v.conflict]))
  const histories = await waitFor(async () => {
    const got = await Promise.all(all.map(async node => await node.json(['history', 'counter'])))
    return got.every(h => h.versions.length === 2 && marks(h) === marks(got[0])) ? got : undefined
  }, 'every node to hold both writes of counter in its history, marked alike')
  const [current, earlier] = histories[0].versions
  if (earlier.value !== loser.value || current.value !== winner.value) fail(`history of counter is not ${winner.value} then ${loser.value}`)
  table(['node', 'current', 'before it', 'conflict?'], all.map((node, i) => [node.name, `${histories[i].versions[0].value} (${nameOf(histories[i].versions[0].version.origin)})`, `${histories[i].versions[1].value} (${nameOf(histories[i].versions[1].version.origin)})`, histories[i].versions[1].conflict ? 'yes' : 'no']))
  passed(earlier.conflict
    ? `${loser.node.name}'s ${loser.value} kept in history on all 3 nodes, marked as a conflict: ${winner.node.name} had not seen it (murmurctl get counter --conflicts)`
    : `${loser.node.name}'s ${loser.value} kept in history on all 3 nodes, not a conflict: ${winner.node.name} had seen it before writing`)

  heading('A node goes offline, and everyone keeps writing')
  const charlieId = charlie.id
  await charlie.stop()
  passed('charlie stopped by SIGTERM (exit code 0)')
  await writeAll(alice, [['db:host', 'db.internal']])
  await writeAll(bob, [['api:timeout', '60']])
  // a restarted node redials the members in its peer book; set it aside so charlie comes back alone
  const peerBook = join(charlie.dataDir, 'peers.json')
  if (existsSync(peerBook)) renameSync(peerBook, `${peerBook}.set-aside`)
  await charlie.start()
  if (charlie.id !== charlieId) fail(`charlie came back with peer ID ${charlie.id}, expected ${charlieId}`)
  passed(`charlie restarted without --peer and with its peer book (peers.json) set aside: same peer ID ${shortId(charlie.id)}, ${charlie.status.keys} keys kept`)
  await writeAll(charlie, [['cache:ttl', '7200'], ['feature:offline', 'written while isolated']])
  const alone = await charlie.json(['status'])
  if (alone.peers !== 0) fail(`charlie should be alone (no --peer, no peer book, new port) but has ${alone.peers} peers`)
  passed('charlie wrote while isolated: it has 0 peers, and alice and bob do not know its new port')
  const [aliceNow, charlieNow] = await Promise.all([alice.json(['list']), charlie.json(['list'])])
  const value = (entries, key) => entries.find(e => e.key === key)?.value ?? '(absent)'
  const differing = [...new Set([...aliceNow, ...charlieNow].map(e => e.key))].sort().filter(key => value(aliceNow, key) !== value(charlieNow, key))
  say()
  say(indent('while apart, alice (like bob) and charlie differ:'))
  table(['key', 'alice', 'charlie'], differing.map(key => [key, value(aliceNow, key), value(charlieNow, key)]))
  say()
  let result
  const catchUpMs = await timeCatchUp(all, 13, async () => { result = await charlie.json(['connect', alice.addr]) }, FILES)
  say(indent(`${yellow('→')} charlie: murmurctl connect ${withoutPeerId(alice.addr)}  ${dim(`(connected to ${nameOf(result.id)})`)}`))
  const merged = await converged(all, 13, 'all three nodes to list the same keys after charlie reconnects')
  const after = await alice.json(['list'])
  say()
  table(['key', 'value now on every node', 'written by'], differing.map(key => [key, value(after, key), nameOf(after.find(e => e.key === key)?.version.origin ?? '')]))
  passed(`both sides caught up ${catchUpMs.toFixed(0)} ms after \`murmurctl connect\` was run: \`murmurctl list\` identical on all 3 nodes (${lineCount(merged)} keys)`)
  say(indent(dim("  timed until the 13 keys' rows were identical in all three murmur.db files, read every millisecond;")))
  say(indent(dim('  it includes the murmurctl process that dials (its start, ~0.1–0.2 s)')))
  say()
  sqliteTable(await identicalRows(all, 'identical kv_store rows after the catch-up'))
  passed('SQLite kv_store rows identical on all 3 nodes after the catch-up')

  heading('A restart with no flags: the peer book')
  await charlie.stop()
  say(indent('charlie stopped again (exit code 0); alice writes while it is down:'))
  await writeAll(alice, [['project:version', '1.2.0']])
  await charlie.start()
  const book = await waitFor(async () => {
    const peers = await charlie.json(['peers'])
    return peers.some(p => p.id === alice.id) ? peers : undefined
  }, 'charlie to redial alice from its peer book')
  say(indent('charlie restarted with no --peer; `murmurctl peers` on charlie:'))
  table(['peer', 'found via', 'addresses'], book.map(p => [p.name ?? nameOf(p.id), p.via ?? '?', p.addrs.map(withoutPeerId).join(' ')]))
  const final = await converged(all, 13, 'charlie to catch up on project:version = 1.2.0')
  if (!final.includes('project:version = 1.2.0\n')) fail(`charlie's list lacks alice's project:version = 1.2.0:\n${final}`)
  const rows = await identicalRows(all, 'identical kv_store rows after the restart')
  passed(`charlie reconnected from its peer book and caught up: lists and kv_store rows identical (${rows[0].rows} rows, sha256 ${rows[0].sha.slice(0, 16)}…)`)

  heading('Stopping')
  for (const node of all) await node.stop()
  passed('alice, bob and charlie stopped by SIGTERM (exit code 0)')
  return Date.now() - started
}

// ── entry ──────────────────────────────────────────────────────────────────

if (!existsSync(join(ROOT, 'packages/daemon/dist/bundle/murmurd.js')) || !existsSync(join(ROOT, 'packages/cli/dist/bundle/murmurctl.cjs'))) {
  process.stderr.write('demo: murmur is not built; run `npm ci` (or `npm run build`) at the repository root first\n')
  process.exit(1)
}

const root = mkdtempSync(join(tmpdir(), 'murmur-demo-'))
const nodes = { alice: new DemoNode('alice', root), bob: new DemoNode('bob', root), charlie: new DemoNode('charlie', root) }

let finishing = false
async function abort (message, code) {
  if (finishing) return
  finishing = true
  process.stderr.write(`\n${red('✗ demo failed:')} ${message}\n`)
  for (const node of Object.values(nodes)) {
    if (node.died != null) process.stderr.write(`  ${node.died}; its last output:\n${indent(indent(node.log.trimEnd()))}\n`)
  }
  await cleanUp(root)
  process.exit(code)
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    void abort(`interrupted by ${signal}; stopped the nodes and removed ${root}`, 130)
  })
}
const watchdog = setTimeout(() => { void abort(`the demo did not finish within ${DEMO_DEADLINE_MS / 1000} s`, 1) }, DEMO_DEADLINE_MS)
// last resort if something exits the process synchronously: no murmurd may outlive the demo
process.on('exit', () => { for (const child of running) child.kill('SIGKILL') })

try {
  const tookMs = await scenario(root, nodes)
  clearTimeout(watchdog)
  await cleanUp(root)
  say()
  say(bold(green(`✓ demo passed: ${checks} checks in ${(tookMs / 1000).toFixed(1)} s`)) + dim(` (removed ${root})`))
} catch (err) {
  clearTimeout(watchdog)
  await abort(err instanceof DemoError ? err.message : err.stack, 1)
}
