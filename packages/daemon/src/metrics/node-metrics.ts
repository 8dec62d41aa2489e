/**
 * A node's Prometheus metrics, in a registry of its own: the library can run
 * several nodes in one process, so never prom-client's global one.
 *
 * What the node already tallies (ops applied and refused, keys, peers, lag,
 * file sizes) is read when Prometheus scrapes (see scrape-time.ts), so it
 * costs nothing in between. Only what exists nowhere else is recorded as it
 * happens, each in O(1): write-acknowledgement latency, sync pulls and their
 * duration, RPC requests.
 */
import type { Counter, Histogram, Registry } from 'prom-client'
import { promClient } from './prom.js'
import { registerScrapeTime, type ScrapeComponents } from './scrape-time.js'

export type PullOutcome = 'ok' | 'aborted' | 'failed'

export type { ScrapeComponents } from './scrape-time.js'

export class NodeMetrics {
  /** This node's metrics only; `text()` adds the process's. */
  readonly registry: Registry
  private readonly writeAck: Histogram
  private readonly pullSeconds: Histogram<'outcome'>
  private readonly pulls: Counter<'trigger' | 'outcome'>
  private readonly rpcRequests: Counter<'method' | 'code'>
  /** One bound series per method and code seen, so counting a request hashes no labels. */
  private readonly rpcSeries = new Map<string, Counter.Internal>()

  constructor (components: ScrapeComponents) {
    const { Counter, Histogram, Registry } = promClient()
    this.registry = new Registry()
    const registers = [this.registry]
    this.writeAck = new Histogram({
      name: 'murmur_write_ack_seconds',
      help: 'Time from a write (put, delete, batch or attestation) entering the write queue to its acknowledgement: committed, and fsynced with --durability full.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers
    })
    this.pullSeconds = new Histogram({
      name: 'murmur_sync_pull_duration_seconds',
      help: 'Duration of sync pulls from peers, by outcome (ok, aborted: ended early by the protocol, failed: an error).',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers
    })
    this.pulls = new Counter({
      name: 'murmur_sync_pulls_total',
      help: 'Sync pulls from peers, by what started them (connect, reconnect, anti-entropy, gap, claim: a member\'s pull from this node named ops it lacks, digest: a peer\'s answer to a short hello named ops it lacks, declined: this node declined a peer\'s snapshot and ended the pull before its rows, wanted: a pull without rows found it would now take the snapshot) and outcome (ok, aborted, failed).',
      labelNames: ['trigger', 'outcome'],
      registers
    })
    this.rpcRequests = new Counter({
      name: 'murmur_rpc_requests_total',
      help: 'JSON-RPC requests on the local socket, by method ("invalid": not a request, "unknown": no such method, "unread": refused unread: too many connections or requests in flight, a frame too large or too slow) and code ("ok", or the JSON-RPC error code).',
      labelNames: ['method', 'code'],
      registers
    })
    registerScrapeTime(this.registry, components)
  }

  /** A write was acknowledged `seconds` after it was submitted. */
  acknowledged (seconds: number): void {
    this.writeAck.observe(seconds)
  }

  /** A pull from a peer ended. `trigger` is one of the sync service's fixed reasons. */
  pulled (trigger: string, outcome: PullOutcome, seconds: number): void {
    this.pulls.inc({ trigger, outcome })
    this.pullSeconds.observe({ outcome }, seconds)
  }

  /** An RPC request was answered: `code` undefined for success. `method` must come from a fixed set. */
  rpc (method: string, code?: number): void {
    const key = `${method} ${code ?? 'ok'}`
    let series = this.rpcSeries.get(key)
    if (series === undefined) {
      series = this.rpcRequests.labels(method, code === undefined ? 'ok' : String(code))
      this.rpcSeries.set(key, series)
    }
    series.inc()
  }

  /** The scrape: this node's metrics and the process's, in Prometheus text format. */
  async text (): Promise<string> {
    return await promClient().Registry.merge([this.registry, processRegistry()]).metrics()
  }

  get contentType (): string {
    return this.registry.contentType
  }
}

let processMetrics: Registry | undefined

/**
 * CPU, memory, event-loop lag, GC and handles describe the process, not a
 * node, and prom-client's collectors for them cannot be stopped once
 * started: one registry per process, shared by every node's scrape.
 */
function processRegistry (): Registry {
  if (processMetrics === undefined) {
    const { Registry, collectDefaultMetrics } = promClient()
    processMetrics = new Registry()
    collectDefaultMetrics({ register: processMetrics })
  }
  return processMetrics
}
