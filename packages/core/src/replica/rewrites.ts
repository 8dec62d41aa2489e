/**
 * Writes a node names to make again with new stamps (`ReplicaState.rewrites`):
 * which, over what row, and their copy in `meta`, so a crash loses none.
 */
import type { ReplicaState } from './state.js'

/** A write to make again as long as its key's row is still the op `over`: that row's value with a new stamp, or a delete. */
export interface Rewrite {
  over: { origin: string, seq: number }
  remove: boolean
}

/**
 * Names a write to make again, with a new stamp, over the row `over` of its
 * key: a value this node took that is older than a delete it collected (it
 * cannot tell whether that delete hit it, so it makes it mean the same on
 * every node), or what a snapshot showed (see `snapshot.ts`). Made only while
 * the row is still `over`: a newer op of the key that arrives first decides.
 */
export function nameRewrite (state: ReplicaState, key: string, over: { origin: string, seq: number }, remove: boolean): void {
  state.rewrites.set(key, { over: { origin: over.origin, seq: over.seq }, remove })
  state.handed.delete(key)
}

/** Writes the named rewrites to `meta` (in the caller's transaction, the one that named them). */
export function saveRewrites (state: ReplicaState): void {
  state.store.setMeta('rewrites', JSON.stringify([...state.rewrites].map(([key, { over, remove }]) => [key, over.origin, over.seq, remove ? 1 : 0])))
}

export function loadRewrites (text: string | undefined): Map<string, Rewrite> {
  const rewrites = new Map<string, Rewrite>()
  for (const [key, origin, seq, remove] of JSON.parse(text ?? '[]') as Array<[string, string, number, number]>) rewrites.set(key, { over: { origin, seq }, remove: remove === 1 })
  return rewrites
}
