/**
 * The write path of a node: each put and delete is checked where it enters
 * (the key against the protocol's schema, the value against the size limit),
 * committed through the write queue, and a commit or fsync the disk refuses
 * is reported as a `Storage` error, for the library API (and the RPC over it)
 * and replication's own writes (attestations, ops written again) alike.
 */
import { Key, rpcError } from '@murmur/protocol'
import type { Change, Op, Replica, Version } from '@murmur/core'
import type { Logger } from 'pino'
import type { NodeMetrics } from './metrics/node-metrics.js'
import type { WriteQueue } from './write-queue.js'

/** What one write of `writeMany` settles to: a put's version, or what a delete did. */
export type WriteOutcome = Version | { deleted: boolean, version?: Version }

export interface WritesInit {
  /** Largest value accepted, in bytes. */
  maxValueBytes: number
  log: Logger
  /** Times each acknowledgement, when the node keeps metrics. */
  metrics?: NodeMetrics
}

export interface WritesComponents {
  /** The running node's replica and write queue; throws NotStartedError while the node is stopped. */
  running: () => { replica: Replica, writeQueue: WriteQueue }
}

export class Writes {
  private readonly components: WritesComponents
  private readonly init: WritesInit

  constructor (components: WritesComponents, init: WritesInit) {
    this.components = components
    this.init = init
  }

  async put (key: string, value: Uint8Array | string): Promise<Version> {
    const [op] = await this.submit([this.putChange(key, value)])
    return versionOf(op as Op)
  }

  async delete (key: string): Promise<{ deleted: boolean, version?: Version }> {
    if (this.deleteChange(key) == null) return { deleted: false }
    const [op] = await this.submit([{ key, value: null }])
    return { deleted: true, version: versionOf(op as Op) }
  }

  /** One commit for all of `writes`, each settling on its own (see `Murmur.writeMany`). */
  async writeMany (writes: Array<{ key: string, value: Uint8Array | string | null }>): Promise<Array<PromiseSettledResult<WriteOutcome>>> {
    const settled = new Array<PromiseSettledResult<WriteOutcome>>(writes.length)
    const changes: Change[] = []
    /** The index in `writes` of each change. */
    const indexes: number[] = []
    writes.forEach(({ key, value }, i) => {
      try {
        const change = value == null ? this.deleteChange(key) : this.putChange(key, value)
        if (change == null) settled[i] = { status: 'fulfilled', value: { deleted: false } }
        else {
          changes.push(change)
          indexes.push(i)
        }
      } catch (err) {
        settled[i] = { status: 'rejected', reason: err }
      }
    })
    if (changes.length === 0) return settled
    let ops: Op[] = []
    let failure: unknown
    try {
      ops = await this.submit(changes)
    } catch (err) {
      failure = err
    }
    indexes.forEach((i, j) => {
      const op = ops[j] as Op
      settled[i] = failure != null
        ? { status: 'rejected', reason: failure }
        : { status: 'fulfilled', value: op.value == null ? { deleted: true, version: versionOf(op) } : versionOf(op) }
    })
    return settled
  }

  /** Commits `changes` as this node's own ops, through the write queue. */
  async submit (changes: Change[]): Promise<Op[]> {
    const { log, metrics } = this.init
    try {
      if (metrics === undefined) return await this.components.running().writeQueue.submit(changes)
      const started = performance.now()
      const ops = await this.components.running().writeQueue.submit(changes)
      metrics.acknowledged((performance.now() - started) / 1000)
      return ops
    } catch (err) {
      const code = (err as { code?: string }).code ?? ''
      if (code.startsWith('SQLITE_')) {
        log.error({ err: (err as Error).message, code }, 'write failed')
        const reason = code === 'SQLITE_FULL' ? 'the disk is full' : (err as Error).message
        throw rpcError('Storage', `write not stored: ${reason}`, { sqlite: code })
      }
      if (['EIO', 'ENOSPC', 'EDQUOT', 'EROFS'].includes(code)) {
        // committed, but the fsync of the WAL failed: it may or may not survive a power cut
        log.error({ err: (err as Error).message, code }, 'write committed but not synced to disk')
        throw rpcError('Storage', `write not known to be on disk: ${(err as Error).message}`, { errno: code })
      }
      throw err
    }
  }

  /** A put, checked: the key, and the value against the size limit. */
  private putChange (key: string, value: Uint8Array | string): Change {
    const { maxValueBytes } = this.init
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
    checkKey(key)
    if (bytes.byteLength > maxValueBytes) {
      throw rpcError('ValueTooLarge', `value is ${bytes.byteLength} bytes; the limit is ${maxValueBytes}`, { limit: maxValueBytes, size: bytes.byteLength })
    }
    return { key, value: bytes }
  }

  /** A delete, checked; undefined when there is nothing to delete. */
  private deleteChange (key: string): Change | undefined {
    checkKey(key)
    return this.components.running().replica.get(key)?.value == null ? undefined : { key, value: null }
  }
}

/** The protocol's `Key` schema is the one definition of a valid key, for RPC and library calls alike. */
export function checkKey (key: string): void {
  const parsed = Key.safeParse(key)
  if (!parsed.success) throw rpcError('InvalidParams', parsed.error.issues[0]?.message ?? 'invalid key')
}

/** An op's version, without the rest of the op. */
export function versionOf (op: Version): Version {
  return { wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq }
}
