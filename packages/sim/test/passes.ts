import assert from 'node:assert/strict'
import type { RunResult } from '../src/index.js'

/** Fails with the seed and how to replay it, and the end of its trace, unless the run passed every check. */
export function passes (result: RunResult): void {
  assert.deepEqual(result.failures, [], `seed ${result.seed} failed; replay it with: npm run sim -- --seed ${result.seed}\n${result.trace.slice(-40).join('\n')}`)
}
