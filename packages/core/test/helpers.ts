/**
 * Shared test fixtures: temporary directories, store factories, real Ed25519
 * keys for test origins, replicas, and in-process syncs over encoded frames.
 */
import { generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import Database from 'better-sqlite3'
import { MemoryStore, PullSession, Replica, SqliteStore, decodeFrame, encodeFrame, opDigest, serve, type Frame, type Op, type PullResult, type ReplicaInit, type Store } from '../src/index.js'

/** A fresh directory under the OS temp dir, removed when the test file ends. Call at module level. */
export function tempDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'murmur-core-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export type StoreKind = 'memory' | 'sqlite'

/** Opens stores of one kind; SQLite files go in `dir`, each under a new name. */
export function storeFactory (kind: StoreKind, dir: string): () => Store {
  let files = 0
  return kind === 'memory'
    ? () => new MemoryStore()
    : () => SqliteStore.open(join(dir, `store-${files++}.db`), { durability: 'normal' })
}

/** An op as plain data, with its value as hex, so Buffer and Uint8Array values compare equal. */
export function plain (op: Op | undefined): object | null {
  return op === undefined ? null : { key: op.key, value: op.value === null ? null : Buffer.from(op.value).toString('hex'), ...(op.type !== undefined ? { type: op.type } : {}), ...(op.expires !== undefined ? { expires: op.expires } : {}), wall: op.wall, logical: op.logical, origin: op.origin, seq: op.seq }
}

/** Every row of a store (tombstones and murmur's records included), as plain data: what replicas must agree on. */
export function rowsOf (store: Store): object[] {
  return store.rows({ tombstones: true, reserved: true }).map(op => plain(op) as object)
}

export function bytes (text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

export function text (value: Uint8Array | null | undefined): string | null | undefined {
  return value == null ? value : Buffer.from(value).toString()
}

export function op (key: string, value: string | null, version: Partial<Omit<Op, 'key' | 'value'>> = {}): Op {
  return { key, value: value === null ? null : bytes(value), wall: 1, logical: 0, origin: 'peerA', seq: 1, ...version }
}

/** Ed25519 keys for test origins, created on first use; `verify` checks any of them. */
export class Keys {
  private readonly keys = new Map<string, { privateKey: KeyObject, publicKey: KeyObject }>()

  signer (origin: string): (payload: Uint8Array) => Uint8Array {
    const { privateKey } = this.pair(origin)
    return payload => sign(null, payload, privateKey)
  }

  readonly verify = (origin: string, payload: Uint8Array, sig: Uint8Array): boolean => {
    const pair = this.keys.get(origin)
    return pair !== undefined && verify(null, payload, pair.publicKey, sig)
  }

  private pair (origin: string): { privateKey: KeyObject, publicKey: KeyObject } {
    let pair = this.keys.get(origin)
    if (pair === undefined) this.keys.set(origin, (pair = generateKeyPairSync('ed25519')))
    return pair
  }
}

/** A test clock: `now()` reads it, `advance(ms)` moves it. */
export class Clock {
  ms: number
  constructor (start = 1_700_000_000_000) {
    this.ms = start
  }

  readonly now = (): number => this.ms
  advance (ms: number): void {
    this.ms += ms
  }
}

/** Signed replicas sharing keys and a clock. */
export function replicaFactory (keys: Keys, clock: Clock, open: () => Store, defaults: Partial<ReplicaInit> = {}): (nodeId: string, init?: Partial<ReplicaInit>) => Replica {
  // floors follow what every member holds at once (floorLagMs 0) unless a test asks for the lag
  return (nodeId, init = {}) => new Replica({ store: open(), nodeId, now: clock.now, sign: keys.signer(nodeId), verify: keys.verify, attestIntervalMs: 0, attestMsPerOrigin: 0, floorLagMs: 0, ...defaults, ...init })
}

/** Writes through `replica` and marks the ops durable, as the daemon does once they are on disk. */
export function put (replica: Replica, key: string, value: string | null): Op {
  const [written] = replica.write([{ key, value: value === null ? null : bytes(value) }])
  replica.markDurable((written as Op).seq)
  return written as Op
}

/** Writes `replica`'s attestation now, if one is due, and marks it durable. */
export function attest (replica: Replica, now?: number): Op | undefined {
  const change = replica.attestation(now)
  if (change === undefined) return undefined
  const [written] = replica.write([change])
  replica.markDurable((written as Op).seq)
  return written
}

/** `puller` pulls from `server`, every frame encoded and decoded as on the wire. */
export function pull (puller: Replica, server: Replica, group = 'g'): PullResult {
  const session = new PullSession(puller, { group, name: puller.nodeId, peer: server.nodeId })
  const hello = wire(session.hello())
  if (hello.kind !== 'control' || hello.message.t !== 'hello') throw new Error('bad hello')
  for (const frame of serve(server, hello.message, { group, name: server.nodeId, pageOps: 7, frameBytes: 300 })) {
    if (session.done) break
    session.take(wire(frame))
  }
  if (!session.done) throw new Error('the server stopped before done')
  return session.result
}

export function wire (frame: Frame): Frame {
  return decodeFrame(encodeFrame(frame))
}

/** Every node pulls from every other in turn, after writing its attestation if due, `rounds` times. */
export function mesh (nodes: Replica[], rounds = 3): void {
  for (let round = 0; round < rounds; round++) {
    for (const node of nodes) attest(node)
    for (const puller of nodes) for (const server of nodes) if (puller !== server) pull(puller, server)
  }
}

/**
 * SQL that takes a current file back to version 10: each key's cursor in a
 * `changes` table, and rowids as SQLite gave them out (here in key order,
 * unrelated to the cursors, as after a key was written twice).
 */
export const UNDO_VERSION_11 = `CREATE TABLE changes (key TEXT PRIMARY KEY NOT NULL, cursor INTEGER NOT NULL UNIQUE);
  INSERT INTO changes (key, cursor) SELECT key, rowid FROM kv_store WHERE rowid > 0;
  UPDATE kv_store SET rowid = -rowid;
  UPDATE kv_store SET rowid = n FROM (SELECT key AS k, row_number() OVER (ORDER BY key) AS n FROM kv_store) WHERE k = key;`

/** SQL that takes a current file back to version 9: nor `snapshot_batch`. */
export const UNDO_VERSION_10 = UNDO_VERSION_11 + ' DROP TABLE snapshot_batch;'

/** SQL that takes a current file back to version 8: nor a `refresh` column. */
export const UNDO_VERSION_9 = UNDO_VERSION_10 + ' ' + ['kv_store', 'op_history', 'snapshot_stage'].map(table => `ALTER TABLE ${table} DROP COLUMN refresh;`).join(' ')

/** SQL that takes a current file back to version 7: nor `seen` columns, `key_history` or `key_history_floor` (version 8). */
export const UNDO_VERSION_8 = UNDO_VERSION_9 + ' ' + ['kv_store', 'op_history', 'snapshot_stage'].flatMap(table =>
  ['seen_wall', 'seen_logical', 'seen_origin'].map(column => `ALTER TABLE ${table} DROP COLUMN ${column};`)).join(' ') + ' DROP TABLE key_history; DROP TABLE key_history_floor;'

/** SQL that takes a current file back to version 6: nor `expires` (version 7). */
export const UNDO_VERSIONS_7_8 = UNDO_VERSION_8 + ' DROP INDEX kv_store_expires;' +
  ['kv_store', 'op_history', 'snapshot_stage'].map(table => ` ALTER TABLE ${table} DROP COLUMN expires;`).join('')

/** SQL that takes a current file back to version 5: nor `changes` or its cursors in `meta` (version 6). */
export const UNDO_VERSION_6 = UNDO_VERSIONS_7_8 + " DROP TABLE changes; DELETE FROM meta WHERE name IN ('change_cursor', 'change_floor');"

/** SQL that takes a current file back to version 4: nor a `type` column (version 5). */
export const UNDO_VERSION_5 = UNDO_VERSION_6 + ['kv_store', 'op_history', 'snapshot_stage'].map(table => ` ALTER TABLE ${table} DROP COLUMN type;`).join('')

/** By version, the SQL that takes a current file back to it (the schema_version still to be set). */
export const UNDO: Record<number, string> = { 4: UNDO_VERSION_5, 5: UNDO_VERSION_6, 6: UNDO_VERSIONS_7_8, 7: UNDO_VERSION_8, 8: UNDO_VERSION_9, 9: UNDO_VERSION_10, 10: UNDO_VERSION_11 }

/** A file at `path` holding `ops`, then taken back to schema `version` by `undo`: one as an older murmur left it. */
export function olderFile (path: string, ops: Op[], undo: string, version: number): void {
  const store = SqliteStore.open(path)
  for (const op of ops) store.put(op, opDigest(op))
  store.close()
  const db = new Database(path)
  db.exec(`${undo} UPDATE meta SET value = ${version} WHERE name = 'schema_version'`)
  db.close()
}
