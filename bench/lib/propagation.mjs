/**
 * Propagation: kv_put on one node, kv_subscription event on every other node.
 * The load generator holds every socket, so one clock (performance.now() in
 * this process) stamps both the send of the put and the arrival of each event.
 */
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { sleep } from './daemon.mjs'
import { openLoopPuts, valueOf } from './load.mjs'
import { summary } from './stats.mjs'

export const PROPAGATION_VALUE = valueOf(16)

/** Subscribes on every node's control client; `route(node, key, at)` receives each event. */
export async function subscribeAll (nodes, route) {
  await Promise.all(nodes.map(async (node, i) => {
    node.ctl.onNotification = (params, at) => { route(i, params.result.key, at) }
    node.subscription = await node.ctl.call('kv_subscribe', { prefix: '' })
  }))
}

export async function unsubscribeAll (nodes) {
  await Promise.all(nodes.map(async node => {
    if (node.subscription != null) await node.ctl.call('kv_unsubscribe', { subscription: node.subscription })
    node.subscription = undefined
    node.ctl.onNotification = null
  }))
}

/** Routes events to whichever measurement is current. */
export class EventRouter {
  constructor () { this.handler = null }
  route = (i, key, at) => { this.handler?.(i, key, at) }
}

/**
 * Puts probe keys on `writer` until `rounds` consecutive probes reach every
 * other node within `withinMs` (gossip meshes form within a few heartbeats),
 * or `timeoutMs` passes.
 */
export async function meshReady (nodes, writer, router, { rounds = 3, withinMs = 250, timeoutMs = 60_000 } = {}) {
  const deadline = performance.now() + timeoutMs
  let good = 0
  let probe = 0
  while (good < rounds) {
    if (performance.now() > deadline) throw new Error(`gossip did not reach every node within ${withinMs} ms after ${timeoutMs} ms of probing`)
    const key = `probe:${probe++}`
    const seen = new Set()
    router.handler = (i, k) => { if (k === key && i !== writer) seen.add(i) }
    await nodes[writer].ctl.call('kv_put', { key, value: 'p' })
    const until = performance.now() + withinMs
    while (seen.size < nodes.length - 1 && performance.now() < until) await sleep(5)
    good = seen.size === nodes.length - 1 ? good + 1 : 0
    await sleep(100)
  }
  router.handler = null
}

/** Jiffies the whole machine spent busy and in total so far (/proc/stat), for its utilisation over a window. */
export function machineCpu () {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0)
  return { busy: total - f[3] - f[4], total }
}

/** CPU ms of each node. */
export const cpuOf = nodes => nodes.map(n => n.cpuMs())

/** Each node's CPU use while idle over `ms`, in ms of CPU per second. */
export async function idleCpu (nodes, ms) {
  const before = cpuOf(nodes)
  const start = performance.now()
  await sleep(ms)
  const seconds = (performance.now() - start) / 1000
  return cpuOf(nodes).map((c, i) => (c - before[i]) / seconds)
}

/**
 * Open-loop puts at `rate`/s for `ms` on `nodes[writer]`, events measured on
 * every other node. Undelivered events count as infinitely late, so a run
 * that loses more than 1% of its events has an infinite p99.
 */
export async function measureSteady (nodes, writer, router, { rate, ms, tag, graceMs = 2_000 }) {
  const sentAt = new Map()
  const ackedAt = new Map()
  const receivers = nodes.length - 1
  const latencies = []
  const afterAck = []
  let delivered = 0
  router.handler = (i, key, at) => {
    if (i === writer) return
    const t = sentAt.get(key)
    if (t === undefined) return
    latencies.push(at - t)
    const a = ackedAt.get(key)
    if (a !== undefined) afterAck.push(at - a)
    delivered++
  }
  const cpuBefore = cpuOf(nodes)
  const machineBefore = machineCpu()
  const selfBefore = process.cpuUsage()
  const start = performance.now()
  const result = await openLoopPuts([nodes[writer].ctl], {
    rate, ms, keyFor: i => `${tag}:${i}`, value: PROPAGATION_VALUE, onSend: (key, at) => sentAt.set(key, at), onAck: (key, at) => ackedAt.set(key, at)
  })
  const expected = result.sent * receivers
  const graceUntil = performance.now() + graceMs
  while (delivered < expected && performance.now() < graceUntil) await sleep(5)
  const seconds = (performance.now() - start) / 1000
  const cpuAfter = cpuOf(nodes)
  const machineAfter = machineCpu()
  const self = process.cpuUsage(selfBefore)
  router.handler = null
  const samples = latencies.concat(new Array(Math.max(0, expected - delivered)).fill(Infinity))
  return {
    rate,
    sent: result.sent,
    acked: result.acked,
    sendSeconds: result.seconds,
    achievedRate: result.sent / result.seconds,
    expected,
    delivered,
    latency: summary(samples),
    ack: summary(result.ackLatencies),
    /** From the writer's ack (its commit) to the event: gossip plus the receiver's apply, without the origin's fsync. */
    afterAck: summary(afterAck),
    latencies: samples,
    seconds,
    cpuMs: cpuAfter.map((c, i) => c - cpuBefore[i]),
    /** Share of the machine's CPU (all cores) in use during the window, by anything. */
    machineBusy: (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total),
    /** This load generator's own CPU over the window, in ms. */
    loadGenCpuMs: (self.user + self.system) / 1000
  }
}
