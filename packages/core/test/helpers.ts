/**
 * Shared test fixtures: temporary directories, store factories, and a
 * byte-exact, comparable picture of a store's state.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { MemoryStore, SqliteStore, type Op, type Store } from '../src/index.js'

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
  return op === undefined ? null : { ...op, value: op.value === null ? null : Buffer.from(op.value).toString('hex') }
}

/** Everything a replica exposes about `keys`: each op (tombstones included), live entries, vector, clock and counts. */
export function stateOf (store: Store, keys: string[]): object {
  return {
    ops: keys.map(key => plain(store.get(key))),
    live: store.list().map(plain),
    vector: store.vector(),
    clock: store.clock(),
    counts: store.counts()
  }
}

export function bytes (text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

export function op (key: string, value: string | null, version: Partial<Omit<Op, 'key' | 'value'>> = {}): Op {
  return { key, value: value === null ? null : bytes(value), wall: 1, logical: 0, origin: 'peer-a', seq: 1, ...version }
}
