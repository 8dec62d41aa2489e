/**
 * Cutting ops into messages (gossip) and frames (sync): within a byte budget,
 * and never splitting the ops of one signed batch that fit together, so each
 * batch's proof travels once and without digests.
 */
import type { Op } from '../types.js'

/** What an op adds to a message, before encoding. */
export function payloadSize (op: Op): number {
  return op.key.length * 3 + (op.value?.length ?? 0)
}

/** Splits ops into runs whose keys and values add up to at most `maxBytes` (one oversized op goes alone). */
export function chunkByBytes (ops: Op[], maxBytes: number): Op[][] {
  const chunks: Op[][] = []
  let current: Op[] = []
  let bytes = 0
  for (const op of ops) {
    const size = payloadSize(op)
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current)
      current = []
      bytes = 0
    }
    current.push(op)
    bytes += size
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

/** Like `chunkByBytes`, but keeps the ops of one batch (one proof) together where they fit. */
export function chunkByBatch (ops: Op[], maxBytes: number): Op[][] {
  const chunks: Op[][] = []
  let current: Op[] = []
  let bytes = 0
  for (let start = 0; start < ops.length;) {
    const proof = (ops[start] as Op).proof
    let end = start + 1
    let size = payloadSize(ops[start] as Op)
    for (; end < ops.length && proof != null && (ops[end] as Op).proof === proof; end++) size += payloadSize(ops[end] as Op)
    if (current.length > 0 && bytes + size > maxBytes) {
      chunks.push(current)
      current = []
      bytes = 0
    }
    if (size > maxBytes) chunks.push(...chunkByBytes(ops.slice(start, end), maxBytes))
    else {
      current.push(...ops.slice(start, end))
      bytes += size
    }
    start = end
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}
